# Shared by the multi-node run tests (sourced after lib.sh and run_lib.bash's helpers): root,
# runc, iproute2 and the base_image fixture (Debian + OpenMPI 4 + python3 + numpy + mpi4py),
# whose store is hard-linked into this test's ENVPACK_HOME (its unpack cache shared), and checks
# that a run left no namespace, bridge, container or mount.
[ "$(id -u)" = 0 ] || skip "multi-node runs need root (network namespaces, containers)"
need runc ip jq
env_file="${ENVPACK_BUILD_DIR:?}/base-image.env"
[ -f "$env_file" ] || skip "the base_image fixture did not build (see integration: base_fixture)"
source "$env_file"
mkdir -p "$ENVPACK_HOME" "$BASE_IMAGE_HOME/unpacked"
cp -al "$BASE_IMAGE_HOME/store" "$ENVPACK_HOME/store"
ln -s "$BASE_IMAGE_HOME/unpacked" "$ENVPACK_HOME/unpacked"
IMAGE=$BASE_IMAGE_REF

last_run() { ls "$ENVPACK_HOME/runs" | sort | tail -n 1; }
status_of() { cat "$ENVPACK_HOME/runs/$1/status.json"; }
bridges() { ip -o link show type bridge | awk -F': ' '{print $2}' | grep '^epb' | sort || true; }
BRIDGES_BEFORE=$(bridges)
# Bridges made since this test began that no live run holds (a run holds an flock on
# /run/envpack/net/BRIDGE.lock while its network exists): another test's live run is not a leak.
bridges_left() {
  local b lock
  for b in $(bridges); do
    grep -qx "$b" <<< "$BRIDGES_BEFORE" && continue
    lock=/run/envpack/net/$b.lock
    if [ -e "$lock" ] && ! flock -n "$lock" true; then continue; fi
    echo "$b"
  done
}

# Nothing of run $1 is left: containers, namespaces, bridges, mounts, processes with marker $2.
assert_nothing_left() {
  local id=$1 marker=${2:-}
  if runc list 2>/dev/null | grep -q "envpack-$id"; then runc list; fail "containers of $id left"; fi
  if ip netns list | grep -q "envpack-$id"; then ip netns list; fail "namespaces of $id left"; fi
  [ -z "$(bridges_left)" ] || { ip -o link show type bridge; fail "a bridge of $id left: $(bridges_left)"; }
  if grep -q "$ENVPACK_HOME/runs/$id" /proc/mounts; then grep "$id" /proc/mounts; fail "mounts of $id left"; fi
  if [ -n "$marker" ] && pgrep -f "$marker" > /dev/null; then ps -ef | grep "$marker"; fail "processes of $id left"; fi
}

# Waits (up to $2 s) until run $1's status says phase $3.
wait_phase() {
  local id=$1 secs=$2 phase=$3 i
  for i in $(seq $((secs * 20))); do
    [ -f "$ENVPACK_HOME/runs/$id/status.json" ] &&
      [ "$(status_of "$id" | jq -r .phase)" = "$phase" ] && return 0
    sleep 0.05
  done
  fail "run $id did not reach phase $phase in $secs s"
}
