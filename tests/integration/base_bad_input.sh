#!/usr/bin/env bash
# Bad recipes and failing builds: clear errors, the right exit codes, nothing left in the store.
source "$(dirname "$0")/lib.sh"
need jq
store_state() { { ls "$ENVPACK_HOME/store/blobs/sha256" 2>/dev/null || true; cat "$ENVPACK_HOME/store/index.json" 2>/dev/null || true; ls "$ENVPACK_HOME/base/tmp" 2>/dev/null || true; } | sha256sum; }
"$ENVPACK" images >/dev/null
before=$(store_state)

# An unknown key: exit 2, file:line:column, the line and a caret.
cat > "$SCRATCH/bad-key.yaml" <<'YAML'
name: test/bad:1
debian:
  suite: bookworm
  pakages: [openmpi-bin]
YAML
expect_exit 2 "$ENVPACK" base build "$SCRATCH/bad-key.yaml"
grep -q "bad-key.yaml:4:3: unknown key \`pakages\` in \`debian\`" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "no file:line:column for an unknown key"; }
grep -q '^  *\^' "$SCRATCH/err" || fail "no caret under the error"

# An unknown CUDA component: exit 2, its position, and the known names.
cat > "$SCRATCH/bad-component.yaml" <<'YAML'
debian: {packages: []}
cuda:
  components: [cudart, cudaa]
YAML
expect_exit 2 "$ENVPACK" base build "$SCRATCH/bad-component.yaml"
grep -q 'bad-component.yaml:3:24: unknown CUDA component `cudaa`' "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "unknown component"; }
grep -q 'cudnn' "$SCRATCH/err" || fail "the hint does not list the components"

# A missing toolkit directory: exit 2 before anything runs.
cat > "$SCRATCH/no-toolkit.yaml" <<YAML
debian: {packages: []}
cuda: {toolkit: $SCRATCH/no-such-cuda, components: [cudart]}
YAML
expect_exit 2 "$ENVPACK" base build "$SCRATCH/no-toolkit.yaml"
grep -q "CUDA toolkit directory \`$SCRATCH/no-such-cuda\` does not exist" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "missing toolkit"; }

# A malformed package name and too many layers.
printf 'debian:\n  packages: [Open_MPI]\n' > "$SCRATCH/bad-name.yaml"
expect_exit 2 "$ENVPACK" base build "$SCRATCH/bad-name.yaml"
grep -q 'bad-name.yaml:2:14:' "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "bad package name"; }
{ echo "debian: {packages: []}"; echo "layers:"; for i in $(seq 1 19); do echo "  - {name: g$i, packages: [x$i]}"; done; } > "$SCRATCH/too-many.yaml"
expect_exit 2 "$ENVPACK" base build "$SCRATCH/too-many.yaml"
grep -q 'at most 20' "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "layer budget"; }

if [ "$(id -u)" = 0 ] && command -v mmdebstrap >/dev/null; then
  # mmdebstrap fails (its mirror refuses connections): exit 1 naming mmdebstrap and apt's error.
  port=$(free_port)
  printf 'debian:\n  mirror: http://127.0.0.1:%s/debian\n  packages: []\n' "$port" > "$SCRATCH/dead-mirror.yaml"
  expect_exit 1 "$ENVPACK" base build "$SCRATCH/dead-mirror.yaml"
  grep -q 'mmdebstrap failed' "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "mmdebstrap failure not reported"; }
  [ ! -e "$SCRATCH/dead-mirror.lock" ] || fail "a lock was written for a failed build"

  # An unknown Debian package: exit 2 naming it. apt's answer comes from a real mmdebstrap and
  # apt over a local repository of the base fixture's .debs (base-image.env); mmdebstrap runs with
  # --simulate so that it stops where apt resolves the packages (a full install of the essential
  # set before apt reports the name would take minutes).
  if [ -f "${ENVPACK_BUILD_DIR:-}/base-image.env" ] && command -v apt-ftparchive >/dev/null; then
    source "$ENVPACK_BUILD_DIR/base-image.env"
    repo="$SCRATCH/repo"; mkdir -p "$repo/pool" "$repo/dists/bookworm/main/binary-amd64"
    cp -l "$BASE_IMAGE_HOME"/base/debs/*.deb "$repo/pool/" 2>/dev/null || cp "$BASE_IMAGE_HOME"/base/debs/*.deb "$repo/pool/"
    (cd "$repo" && apt-ftparchive packages pool > dists/bookworm/main/binary-amd64/Packages &&
      apt-ftparchive -o APT::FTPArchive::Release::Suite=bookworm -o APT::FTPArchive::Release::Codename=bookworm \
        -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main \
        release dists/bookworm > dists/bookworm/Release) || fail "local repository"
    printf '#!/bin/sh\nexec mmdebstrap --simulate "$@"\n' > "$SCRATCH/mmdebstrap-sim"; chmod +x "$SCRATCH/mmdebstrap-sim"
    printf 'debian:\n  mirror: "deb [trusted=yes] copy://%s bookworm main"\n  packages: [openmpi-bin, nosuchpkg-xyz]\n' "$repo" > "$SCRATCH/unknown.yaml"
    ENVPACK_MMDEBSTRAP="$SCRATCH/mmdebstrap-sim" expect_exit 2 "$ENVPACK" base build "$SCRATCH/unknown.yaml"
    grep -q 'Debian package `nosuchpkg-xyz` does not exist in bookworm' "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "unknown package not named"; }
    [ ! -e "$SCRATCH/unknown.lock" ] || fail "a lock was written for an unknown package"
  else
    skip_part "unknown Debian package (needs the base_image fixture and apt-utils)"
  fi
fi

[ "$(store_state)" = "$before" ] || { ls -la "$ENVPACK_HOME/store" "$ENVPACK_HOME/base/tmp" 2>&1; fail "the store or the build's temp folder changed"; }
echo "bad input handled"
