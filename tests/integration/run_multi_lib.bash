# Shared by the multi-node run tests (sourced after lib.sh): run_lib.bash's helpers, iproute2,
# the base_image fixture (Debian + OpenMPI 4 + python3 + numpy + mpi4py) linked into this test's
# ENVPACK_HOME with the fixture's unpack cache shared, and a network check that
# assert_nothing_left runs: no namespace or bridge of the run left.
source "$(dirname "${BASH_SOURCE[0]}")/run_lib.bash"
need ip jq
# A test that brings its own image sets IMAGE and MULTI_IMAGE_HOME (an ENVPACK_HOME whose store
# holds it) before sourcing this file; the others get the base image.
if [ -n "${MULTI_IMAGE_HOME:-}" ]; then
  mkdir -p "$ENVPACK_HOME"
  cp -al "$MULTI_IMAGE_HOME/store" "$ENVPACK_HOME/store" || fail "cannot link $MULTI_IMAGE_HOME/store"
else
  use_base_image  # reads base-image.env
  MULTI_IMAGE_HOME=$BASE_IMAGE_HOME
  IMAGE=$BASE_IMAGE_REF
fi
mkdir -p "$MULTI_IMAGE_HOME/unpacked"
ln -s "$MULTI_IMAGE_HOME/unpacked" "$ENVPACK_HOME/unpacked"

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

assert_network_gone() {
  local id=$1
  if ip netns list | grep -q "envpack-$id"; then ip netns list; fail "namespaces of $id left"; fi
  [ -z "$(bridges_left)" ] || { ip -o link show type bridge; fail "a bridge of $id left: $(bridges_left)"; }
}
