#!/usr/bin/env bash
# A rebuild from the base lock with Debian's archive unreachable (envpack in a network namespace
# with no route) installs the cached .debs from a local repository and gives the fixture's digest.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "network namespaces and mmdebstrap need root"
need ip jq mmdebstrap apt-ftparchive
env_file="${ENVPACK_BUILD_DIR:?}/base-image.env"
[ -f "$env_file" ] || skip "the base_image fixture did not build (see integration: base_fixture)"
source "$env_file"

# A fresh ENVPACK_HOME with only the package cache (hard links) and a copy of the lock.
mkdir -p "$ENVPACK_HOME/base/debs"
cp -l "$BASE_IMAGE_HOME"/base/debs/*.deb "$ENVPACK_HOME/base/debs/" 2>/dev/null || cp "$BASE_IMAGE_HOME"/base/debs/*.deb "$ENVPACK_HOME/base/debs/"
cp "$BASE_IMAGE_LOCK" "$SCRATCH/base.lock"

ns="envpack-nonet-$$"
ip netns add "$ns"
cleanup "ip netns del $ns"
if ip netns exec "$ns" curl -s -m 5 -o /dev/null http://deb.debian.org/debian/; then fail "the namespace reaches the archive"; fi

start=$(date +%s)
ip netns exec "$ns" env SOURCE_DATE_EPOCH="$BASE_IMAGE_EPOCH" ENVPACK_HOME="$ENVPACK_HOME" "$ENVPACK" base build \
  "$ENVPACK_SOURCE_DIR/base-images/debian12-openmpi4-python.yaml" --lock "$SCRATCH/base.lock" --json > "$SCRATCH/out.json" \
  || fail "offline rebuild from the lock failed"
echo "offline rebuild from the lock: $(( $(date +%s) - start )) s"
jq -e '.bootstrapped == true and .cached == false and .lock_written == false' "$SCRATCH/out.json" >/dev/null || fail "$(cat "$SCRATCH/out.json")"
cmp -s "$BASE_IMAGE_LOCK" "$SCRATCH/base.lock" || fail "the lock changed"
got=$(jq -r .digest "$SCRATCH/out.json")
[ "$got" = "$BASE_IMAGE_DIGEST" ] || fail "offline rebuild gave $got, the fixture $BASE_IMAGE_DIGEST"
echo "same digest offline: $got"
