#!/usr/bin/env bash
# envpack build on bad input: a lock whose sha256 does not match the download, a package missing
# from the channel, a base not in the store, a stale or missing lock, disk full while writing a
# layer (a small tmpfs as ENVPACK_HOME). Each gives a clear error and leaves the store valid.
source "$(dirname "$0")/lib.sh"
need zstd /usr/bin/python3
S=$SCRATCH
cat >"$S/spec.json" <<'JSON'
[{"name": "dep", "version": "1.0", "build": "0", "files": {"share/dep.txt": {"text": "dep"}}},
 {"name": "app", "version": "1.0", "build": "0", "depends": ["dep"], "formats": ["conda"],
  "files": {"bin/app": {"text": "#!/bin/sh\necho app\n", "mode": 493}}}]
JSON
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$S/spec.json" "$S/channel" >/dev/null
"$ENVPACK" index "$S/channel" >/dev/null
printf 'name: bad\nchannels: [./channel]\ndependencies: [app]\n' >"$S/env.yml"
"$ENVPACK" lock -f "$S/env.yml" >/dev/null
mkdir -p "$S/rootfs/etc" && echo base >"$S/rootfs/etc/base.txt"
"$ENVPACK" import "$S/rootfs" -t test/base:1 >/dev/null
cp "$S/conda-lock.yml" "$S/good-lock.yml"

store_is_valid() {
  "$ENVPACK" images >"$S/images" || fail "images after: $1"
  if grep -q test/env "$S/images"; then fail "a failed build was tagged: $1"; fi
  if [ -n "$(find "$ENVPACK_HOME/store" -name '.tmp-*' -print -quit)" ]; then fail "temp files left in the store: $1"; fi
  if command -v skopeo >/dev/null; then skopeo inspect "oci:$ENVPACK_HOME/store:test/base:1" >/dev/null || fail "skopeo: $1"; fi
}

# 1. sha256 in the lock does not match the file.
good=$(grep -m1 -o 'sha256: [0-9a-f]*' "$S/good-lock.yml" | cut -d' ' -f2)
sed "s/$good/$(printf '0%.0s' $(seq 64))/" "$S/good-lock.yml" >"$S/conda-lock.yml"
expect_exit 1 "$ENVPACK" build -f "$S/env.yml" --base test/base:1 -t test/env:1
grep -q 'hash mismatch' "$S/err" || { cat "$S/err"; fail "sha256 mismatch message"; }
grep -q "$good" "$S/err" || fail "the downloaded file's hash is not named"
store_is_valid "sha mismatch"

# 2. A package missing from the channel.
cp "$S/good-lock.yml" "$S/conda-lock.yml"
mv "$S/channel/linux-64/dep-1.0-0.tar.bz2" "$S/dep.tar.bz2"
expect_exit 1 "$ENVPACK" build -f "$S/env.yml" --base test/base:1 -t test/env:1
grep -q 'dep-1.0-0.tar.bz2.*no such file in the channel' "$S/err" || { cat "$S/err"; fail "missing package message"; }
store_is_valid "missing package"
mv "$S/dep.tar.bz2" "$S/channel/linux-64/dep-1.0-0.tar.bz2"

# 3. A base image that is not in the store.
expect_exit 2 "$ENVPACK" build -f "$S/env.yml" --base nope/base:9 -t test/env:1
grep -q 'image `nope/base:9` is not in the local store' "$S/err" || { cat "$S/err"; fail "missing base message"; }
store_is_valid "missing base"

# 4. No lock, and a stale lock, with --locked (without it, build locks first:
#    build_one_command.sh).
mv "$S/conda-lock.yml" "$S/away.yml"
expect_exit 2 "$ENVPACK" build -f "$S/env.yml" --base test/base:1 --locked
grep -q 'no lock file' "$S/err" || fail "no lock message"
[ ! -e "$S/conda-lock.yml" ] || fail "--locked wrote a lock"
printf 'name: bad\nchannels: [./channel]\ndependencies: [app, dep]\n' >"$S/env2.yml"
expect_exit 2 "$ENVPACK" build -f "$S/env2.yml" --lock "$S/good-lock.yml" --base test/base:1 --locked
grep -q 'is stale' "$S/err" || { cat "$S/err"; fail "stale lock message"; }
cp "$S/good-lock.yml" "$S/conda-lock.yml"
expect_exit 2 "$ENVPACK" build -f "$S/env.yml" --base test/base:1 --max-layers 100
grep -q 'exceed 100 layers' "$S/err" || { cat "$S/err"; fail "max layers message"; }

# The good build still works after all that.
"$ENVPACK" build -f "$S/env.yml" --base test/base:1 -t test/env:1 >/dev/null

# 5. Disk full while writing a layer: ENVPACK_HOME on a 10 MiB tmpfs, a 4 MiB incompressible
#    package (4 MiB cached file + 4 MiB extracted fit; the 4 MiB layer does not).
if [ "$(id -u)" != 0 ]; then skip_part "part 5: mounting a tmpfs needs root"; exit 0; fi
cat >"$S/spec2.json" <<'JSON'
[{"name": "big", "version": "1.0", "build": "0", "random_bytes": {"lib/big.bin": 4194304}}]
JSON
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$S/spec2.json" "$S/channel2" >/dev/null
"$ENVPACK" index "$S/channel2" >/dev/null
printf 'name: big\nchannels: [./channel2]\ndependencies: [big]\n' >"$S/big.yml"
"$ENVPACK" lock -f "$S/big.yml" -o "$S/big-lock.yml" >/dev/null
mkdir -p "$S/small"
mount -t tmpfs -o size=10m tmpfs "$S/small" 2>/dev/null || { skip_part "part 5: cannot mount a tmpfs here"; exit 0; }
cleanup "umount '$S/small'"
export ENVPACK_HOME=$S/small/home
"$ENVPACK" import "$S/rootfs" -t test/base:1 >/dev/null
expect_exit 1 "$ENVPACK" build -f "$S/big.yml" --lock "$S/big-lock.yml" --base test/base:1 -t test/env:1
grep -q 'No space left on device' "$S/err" || { cat "$S/err"; fail "disk full message"; }
grep -qi 'layer' "$S/err" || { cat "$S/err"; fail "disk full: which write failed"; }
store_is_valid "disk full"
"$ENVPACK" gc >/dev/null
echo ok
