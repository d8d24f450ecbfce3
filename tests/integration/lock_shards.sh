#!/usr/bin/env bash
# CEP 16 sharded repodata end to end:
# 1. `envpack index --shards` on a made channel; the lock from its shards (repodata.json removed)
#    equals the lock from its repodata.json, byte for byte.
# 2. Over HTTP (a logging server on port 0): only the shards of the names the request reaches
#    are fetched (4 of 6); a second lock revalidates the index (304) and fetches no shard again;
#    a damaged cached shard is dropped and fetched again; --offline works from the cache with the
#    server gone.
# 3. conda's own sharded test channel (conda-format-repo) served without its linux-64
#    repodata.json locks `zlib` (and its dependency libgcc-ng) from the shards.
# 4. Bad input: a shard whose sha256 does not match the index (exit 1, the cached index dropped,
#    nothing cached for the shard), an index naming a shard the server lacks (exit 1, clear
#    message), a garbage shard index (exit 1, naming it).
source "$(dirname "$0")/lib.sh"
: "${ENVPACK_SHARED_DIR:?}"
need zstd
T=$SCRATCH
export ENVPACK_HTTP_TIMEOUT=5 ENVPACK_HTTP_RETRIES=1
LOG="$T/requests.log"
fail() { echo "FAIL: $*" >&2; [ -f "$LOG" ] && tail -30 "$LOG" >&2; exit 1; }

# A channel: app 2 needs lib >=2 and helper (noarch), helper needs data (noarch); `other` and
# `unused` are never reached. app 2 comes as .conda and .tar.bz2.
cat > "$T/spec.json" <<'JSON'
[
 {"name": "app", "version": "1.0", "build": "0", "subdir": "linux-64", "depends": ["lib >=1"]},
 {"name": "app", "version": "2.0", "build": "0", "subdir": "linux-64",
  "depends": ["lib >=2", "helper", "__glibc >=2.17"], "formats": ["conda", "tar.bz2"]},
 {"name": "lib", "version": "1.0", "build": "0", "subdir": "linux-64"},
 {"name": "lib", "version": "2.0", "build": "1", "build_number": 1, "subdir": "linux-64"},
 {"name": "other", "version": "1.0", "build": "0", "subdir": "linux-64", "depends": ["lib"]},
 {"name": "helper", "version": "1.0", "build": "0", "subdir": "noarch", "noarch": "generic",
  "depends": ["data"]},
 {"name": "data", "version": "1.0", "build": "0", "subdir": "noarch", "noarch": "generic"},
 {"name": "unused", "version": "1.0", "build": "0", "subdir": "noarch", "noarch": "generic"}
]
JSON
"$PY" "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$T/spec.json" "$T/www/ch" > /dev/null
mkdir -p "$T/p"
printf 'channels: [../www/ch]\ndependencies: [app]\n' > "$T/p/env.yml"

# 1. Same lock from repodata.json and from shards.
"$ENVPACK" index "$T/www/ch" > /dev/null
[ ! -e "$T/www/ch/linux-64/repodata_shards.msgpack.zst" ] || fail "index without --shards wrote shards"
"$ENVPACK" lock -f "$T/p/env.yml" -o "$T/json.lock" 2> "$T/err" || { cat "$T/err"; fail "lock from json"; }
"$ENVPACK" index --shards "$T/www/ch" > "$T/index.out"
grep -q 'linux-64/repodata_shards.msgpack.zst: 3 shards' "$T/index.out" || { cat "$T/index.out"; fail "index --shards linux-64"; }
grep -q 'noarch/repodata_shards.msgpack.zst: 3 shards' "$T/index.out" || fail "index --shards noarch"
[ "$(ls "$T"/www/ch/*/shards/*.msgpack.zst | wc -l)" = 6 ] || fail "expected 6 shard files"
cp -r "$T/www/ch" "$T/again"
"$ENVPACK" index --shards "$T/again" > /dev/null
for f in linux-64/repodata_shards.msgpack.zst noarch/repodata_shards.msgpack.zst; do
  cmp "$T/www/ch/$f" "$T/again/$f" || fail "index --shards is not deterministic ($f)"
done
mkdir -p "$T/hold"
mv "$T/www/ch/linux-64/repodata.json" "$T/hold/linux-64.json"
mv "$T/www/ch/noarch/repodata.json" "$T/hold/noarch.json"
"$ENVPACK" lock -f "$T/p/env.yml" -o "$T/shards.lock" 2> "$T/err" || { cat "$T/err"; fail "lock from shards"; }
cmp "$T/json.lock" "$T/shards.lock" || { diff "$T/json.lock" "$T/shards.lock"; fail "shards lock differs from json lock"; }
grep -q 'app-2.0-0.conda' "$T/shards.lock" || fail "app 2.0 .conda not locked"
grep -q 'data-1.0-0' "$T/shards.lock" || fail "data not locked"
! grep -q 'other-\|unused-' "$T/shards.lock" || fail "unreached names locked"

# 2. Over HTTP: only the reached shards.
"$PY" "$ENVPACK_SOURCE_DIR/tests/fixtures/channel_server.py" --dir "$T/www" --log "$LOG" \
  --port-file "$T/port" > /dev/null 2>&1 &
SERVER=$!
track_pid "$SERVER"
URL="http://127.0.0.1:$(wait_port_file "$T/port" "$SERVER")"
: > "$LOG"
mkdir -p "$T/h"
printf "channels: [$URL/ch]\ndependencies: [app]\n" > "$T/h/env.yml"
"$ENVPACK" lock -f "$T/h/env.yml" -o "$T/http.lock" 2> "$T/err" || { cat "$T/err"; fail "lock over http"; }
shard_gets() { grep -c '^GET /ch/[a-z0-9-]*/shards/.* 200' "$LOG" || true; }
[ "$(shard_gets)" = 4 ] || fail "expected 4 shard downloads (app, lib, helper, data), got $(shard_gets)"
[ "$(grep -c 'repodata_shards.msgpack.zst 200' "$LOG")" = 2 ] || fail "shard indexes not fetched once each"
! grep -q 'repodata.json' "$LOG" || fail "repodata.json requested from a sharded channel"
grep -q 'app-2.0-0.conda' "$T/http.lock" || fail "http lock lacks app 2.0"
diff <(grep -o "name: .*\|version: .*" "$T/json.lock") <(grep -o "name: .*\|version: .*" "$T/http.lock") \
  || fail "http lock packages differ from the local lock"

: > "$LOG"
"$ENVPACK" lock -f "$T/h/env.yml" -o "$T/http2.lock" 2> "$T/err" || { cat "$T/err"; fail "second lock over http"; }
cmp "$T/http.lock" "$T/http2.lock" || fail "second lock differs"
[ "$(grep -c 'repodata_shards.msgpack.zst 304' "$LOG")" = 2 ] || fail "shard indexes not revalidated with 304"
[ "$(grep -c 'shards/' "$LOG")" = 0 ] || fail "cached shards fetched again"

# A damaged shard in the cache is dropped and fetched again (only that one).
victim=$(ls "$ENVPACK_HOME"/repodata/shards/*.msgpack.zst | head -1)
[ -n "$victim" ] || fail "no shard in the cache"
printf 'damaged' > "$victim"
: > "$LOG"
"$ENVPACK" lock -f "$T/h/env.yml" -o "$T/http3.lock" 2> "$T/err" || { cat "$T/err"; fail "lock with a damaged cached shard"; }
grep -q "cached shard .* is damaged; dropping it" "$T/err" || fail "no warning about the damaged shard: $(cat "$T/err")"
[ "$(grep -c 'shards/' "$LOG")" = 1 ] || fail "expected exactly the damaged shard to be fetched again"
grep -q "$(basename "$victim") 200" "$LOG" || fail "the damaged shard was not the one fetched"
cmp "$T/http.lock" "$T/http3.lock" || fail "lock after refetching a shard differs"

stop_pid "$SERVER"
"$ENVPACK" lock -f "$T/h/env.yml" -o "$T/offline.lock" --offline 2> "$T/err" || { cat "$T/err"; fail "--offline from the shard cache"; }
cmp "$T/http.lock" "$T/offline.lock" || fail "offline lock differs"

# 3. conda's sharded test channel without its linux-64 repodata.json.
mkdir -p "$T/www/cfr"
cp -r "$ENVPACK_SHARED_DIR/data/conda/channels/conda-format-repo/linux-64" \
      "$ENVPACK_SHARED_DIR/data/conda/channels/conda-format-repo/noarch" "$T/www/cfr/"
rm -f "$T/www/cfr/linux-64/repodata.json" "$T/www/cfr/linux-64/current_repodata.json"
: > "$T/port"
"$PY" "$ENVPACK_SOURCE_DIR/tests/fixtures/channel_server.py" --dir "$T/www" --log "$LOG" \
  --port-file "$T/port" > /dev/null 2>&1 &
SERVER=$!
track_pid "$SERVER"
URL="http://127.0.0.1:$(wait_port_file "$T/port" "$SERVER")"
: > "$LOG"
printf "channels: [$URL/cfr]\ndependencies: [zlib]\n" > "$T/h/zlib.yml"
"$ENVPACK" lock -f "$T/h/zlib.yml" -o "$T/zlib.lock" 2> "$T/err" || { cat "$T/err"; fail "lock zlib from conda-format-repo"; }
grep -q "url: '$URL/cfr/linux-64/zlib-1.2.11-h7b6447c_3.conda'" "$T/zlib.lock" || { cat "$T/zlib.lock"; fail "zlib .conda not locked"; }
grep -q "libgcc-ng-8.2.0-hdf63c60_1.tar.bz2" "$T/zlib.lock" || fail "libgcc-ng not locked"
grep -Eq "sha256: '?f33afff2144e1d6c4cf2e3e184937db8bf825b4537df74662aea5ee207b6a31b" "$T/zlib.lock" \
  || fail "zlib sha256 (a hex string in the shard) not carried"
grep -q 'GET /cfr/noarch/repodata.json.zst 404' "$LOG" || fail "noarch did not fall back to repodata.json"

# 4. Bad input, each against a fresh copy and a fresh cache.
fresh() { rm -rf "$T/www/bad"; cp -r "$T/www/ch" "$T/www/bad"; export ENVPACK_HOME="$T/home-$1"; }
printf "channels: [$URL/bad]\ndependencies: [app]\n" > "$T/h/bad.yml"
lib_shard() {  # the linux-64 shard that holds lib (the one whose records name lib-2.0)
  for f in "$T"/www/bad/linux-64/shards/*.msgpack.zst; do
    zstd -q -d -c "$f" | grep -aq 'lib-2.0-1' && ! zstd -q -d -c "$f" | grep -aq 'app-' && { echo "$f"; return; }
  done
}
fresh mismatch
f=$(lib_shard); [ -n "$f" ] || fail "no lib shard found"
hex=$(basename "$f" .msgpack.zst)
printf 'not the shard' | zstd -q -c > "$f"
rc=0; "$ENVPACK" lock -f "$T/h/bad.yml" -o - > /dev/null 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/err"; fail "hash mismatch exited $rc"; }
grep -q "but shard index .* says $hex" "$T/err" || fail "mismatch message: $(cat "$T/err")"
[ ! -e "$ENVPACK_HOME/repodata/shards/$hex.msgpack.zst" ] || fail "a mismatching shard was cached"
n=$(ls "$ENVPACK_HOME"/repodata/*/repodata_shards.msgpack.zst 2>/dev/null | wc -l)
[ "$n" = 1 ] || fail "the linux-64 shard index was not dropped from the cache ($n left, noarch's expected)"

fresh missing
f=$(lib_shard); rm -f "$f"
rc=0; "$ENVPACK" lock -f "$T/h/bad.yml" -o - > /dev/null 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/err"; fail "missing shard exited $rc"; }
grep -q "names shard .*$(basename "$f").* of .lib., which the server does not have (HTTP 404)" "$T/err" \
  || fail "missing-shard message: $(cat "$T/err")"

fresh garbage
printf '\xc1garbage' | zstd -q -c > "$T/www/bad/linux-64/repodata_shards.msgpack.zst"
rc=0; "$ENVPACK" lock -f "$T/h/bad.yml" -o - > /dev/null 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/err"; fail "garbage index exited $rc"; }
grep -q "read msgpack .*$URL/bad/linux-64/repodata_shards.msgpack.zst.*reserved byte 0xc1" "$T/err" \
  || fail "garbage message: $(cat "$T/err")"
echo "lock_shards: ok"
