#!/usr/bin/env bash
# The small base image (the base_image fixture) runs for real under runc: python3 imports numpy and
# mpi4py, mpirun answers; owners, modes and setuid bits of the Debian tree survived the layers.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "runc needs root"
need runc umoci jq
env_file="${ENVPACK_BUILD_DIR:?}/base-image.env"
[ -f "$env_file" ] || skip "the base_image fixture did not build (see integration: base_fixture)"
source "$env_file"

bundle="$SCRATCH/bundle"
umoci unpack --image "$BASE_IMAGE_HOME/store:$BASE_IMAGE_REF" "$bundle" >/dev/null || fail "umoci unpack"
root="$bundle/rootfs"

# Owners and modes of a root filesystem, kept: /etc/shadow is root:shadow 0640, passwd is setuid.
[ "$(stat -c '%u:%g %a' "$root/etc/shadow")" = "0:42 640" ] || fail "etc/shadow: $(stat -c '%u:%g %a' "$root/etc/shadow")"
[ "$(stat -c '%a' "$root/usr/bin/passwd")" = 4755 ] || fail "usr/bin/passwd mode $(stat -c '%a' "$root/usr/bin/passwd")"
[ ! -e "$root/etc/hostname" ] && [ ! -e "$root/etc/resolv.conf" ] || fail "host files left in the image"
grep -q '^deb http://deb.debian.org/debian bookworm main$' "$root/etc/apt/sources.list" || fail "sources.list: $(cat "$root/etc/apt/sources.list")"

run_in() {
  local id="envpack-base-run-$$-$1"; shift
  jq --argjson args "$(printf '%s\n' "$@" | jq -R . | jq -s .)" \
    '.process.terminal = false | .process.args = $args' "$bundle/config.json" > "$bundle/config.json.new"
  mv "$bundle/config.json.new" "$bundle/config.json"
  cleanup "runc delete -f $id 2>/dev/null"
  (cd "$bundle" && runc run "$id" < /dev/null)
}
out=$(run_in py python3 -c 'import numpy, mpi4py; print("numpy", numpy.__version__, "mpi4py", mpi4py.__version__)') \
  || fail "python3 -c 'import numpy, mpi4py' failed: $out"
echo "$out"
[[ "$out" == numpy\ 1.*mpi4py\ 3.* ]] || fail "unexpected: $out"
out=$(run_in mpi mpirun --version 2>&1) || fail "mpirun --version failed: $out"
echo "$out" | head -1
[[ "$out" == *"Open MPI) 4.1"* ]] || fail "mpirun --version: $out"
echo "base image runs under runc"
