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

  # Not covered here yet: an unknown Debian package (exit 2 naming it; needs a full mmdebstrap
  # update against a mirror, too slow for this test on a loaded machine).
fi

[ "$(store_state)" = "$before" ] || { ls -la "$ENVPACK_HOME/store" "$ENVPACK_HOME/base/tmp" 2>&1; fail "the store or the build's temp folder changed"; }
echo "bad input handled"
