#!/usr/bin/env bash
# CTest fixture `base_image` (FIXTURES_SETUP): builds base-images/debian12-openmpi4-python.yaml once
# per build tree and reuses it from the cache when nothing changed (the lock and ENVPACK_HOME live
# in ${ENVPACK_BUILD_DIR}/base-fixture/). Tests that declare FIXTURES_REQUIRED base_image source
# ${ENVPACK_BUILD_DIR}/base-image.env, which sets:
#   BASE_IMAGE_REF     the store name (envpack/debian12-openmpi4-python:1)
#   BASE_IMAGE_DIGEST  its manifest digest
#   BASE_IMAGE_HOME    the ENVPACK_HOME whose store holds it (copy it out with
#                      `skopeo copy oci:$BASE_IMAGE_HOME/store:$BASE_IMAGE_REF oci:DIR:REF`, or use
#                      that ENVPACK_HOME: the store is safe for concurrent readers and writers)
#   BASE_IMAGE_LOCK    its base lock; BASE_IMAGE_EPOCH the SOURCE_DATE_EPOCH it was built with
# ${ENVPACK_BUILD_DIR}/base-image.ref holds BASE_IMAGE_REF alone.
source "$(dirname "$0")/lib.sh"
: "${ENVPACK_BUILD_DIR:?}" "${ENVPACK_SOURCE_DIR:?}"
rm -f "$ENVPACK_BUILD_DIR/base-image.env" "$ENVPACK_BUILD_DIR/base-image.ref"
[ "$(id -u)" = 0 ] || skip "mmdebstrap's root mode needs root"
need mmdebstrap apt-ftparchive jq

fixture="$ENVPACK_BUILD_DIR/base-fixture"
home="$fixture/home"
lock="$fixture/debian12-openmpi4-python.lock"
recipe="$ENVPACK_SOURCE_DIR/base-images/debian12-openmpi4-python.yaml"
epoch=1700000000
mkdir -p "$fixture"

build() { SOURCE_DATE_EPOCH=$epoch ENVPACK_HOME="$home" "$ENVPACK" base build "$recipe" --lock "$lock" --json; }
start=$(date +%s)
build > "$SCRATCH/first.json" || fail "base build failed"
echo "first build (or cache hit): $(( $(date +%s) - start )) s, bootstrapped=$(jq .bootstrapped "$SCRATCH/first.json")"
ref=$(jq -r .reference "$SCRATCH/first.json")
digest=$(jq -r .digest "$SCRATCH/first.json")
[ "$ref" = "envpack/debian12-openmpi4-python:1" ] || fail "reference $ref"
[ -s "$lock" ] || fail "no lock written at $lock"
jq -e '.packages | map(.name) | index("openmpi-bin") and index("python3-numpy") and index("python3-mpi4py")' "$lock" >/dev/null \
  || fail "the lock lacks the recipe's packages"
jq -e '.packages | all(.sha256 | test("^[0-9a-f]{64}$"))' "$lock" >/dev/null || fail "lock without sha256s"

# Layers: split by what they hold, within the base budget.
names=$(jq -r '[.layers[].name] | join(",")' "$SCRATCH/first.json")
[ "$names" = "system,mpi,python,rest" ] || fail "layers: $names"
[ "$(jq '.layers | length' "$SCRATCH/first.json")" -le 20 ] || fail "more than 20 layers"
ENVPACK_HOME="$home" "$ENVPACK" inspect "$ref" --json > "$SCRATCH/inspect.json"
jq -r '.labels["org.envpack.virtual-packages"]' "$SCRATCH/inspect.json" | jq -e '.__glibc == "2.36" and (has("__cuda") | not)' >/dev/null \
  || fail "virtual packages label: $(jq -r '.labels["org.envpack.virtual-packages"]' "$SCRATCH/inspect.json")"
# The unowned-files layer stays small next to the package layers.
rest=$(jq '.layers[] | select(.name == "rest") | .size' "$SCRATCH/first.json")
system=$(jq '.layers[] | select(.name == "system") | .size' "$SCRATCH/first.json")
[ "$rest" -lt $((system / 4)) ] || fail "rest layer $rest bytes vs system $system"

# Unchanged inputs: a cache hit that runs no mmdebstrap and gives the same digest.
start=$(date +%s)
build > "$SCRATCH/second.json" || fail "second base build failed"
jq -e '.cached == true and .bootstrapped == false' "$SCRATCH/second.json" >/dev/null || fail "second build was not a cache hit"
[ "$(jq -r .digest "$SCRATCH/second.json")" = "$digest" ] || fail "digest changed on a cache hit"
echo "rebuild (cache hit): $(( $(date +%s) - start )) s"

cat > "$ENVPACK_BUILD_DIR/base-image.env.tmp" <<ENV
BASE_IMAGE_REF=$ref
BASE_IMAGE_DIGEST=$digest
BASE_IMAGE_HOME=$home
BASE_IMAGE_LOCK=$lock
BASE_IMAGE_EPOCH=$epoch
ENV
mv "$ENVPACK_BUILD_DIR/base-image.env.tmp" "$ENVPACK_BUILD_DIR/base-image.env"
echo "$ref" > "$ENVPACK_BUILD_DIR/base-image.ref"
echo "base fixture: $ref $digest"
