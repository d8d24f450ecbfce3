#!/bin/bash
# Faults between envpack and a real registry, injected by a proxy the test runs: dropped
# connections, 500s, 429 with Retry-After, a slow link, a connection cut mid-blob, a blob that
# comes back with wrong bytes. A push or pull either completes with the right digest or fails with
# a clear error, and never leaves a manifest (remote) or a tag (local) whose blobs are missing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need docker-registry skopeo curl
count() { "$PY" -c "import json,sys;print(sum(1 for l in open(sys.argv[1]) if eval(sys.argv[2], {}, json.loads(l))))" "$1" "$2"; }

start_registry main
R=$REG_main
"$PY" "$FIXTURES/make_layout.py" --layout "$S/src" --tag src --layers 4 --bytes 400000 >/dev/null
skopeo copy -q oci:"$S/src":src oci:"$ENVPACK_HOME/store":demo/faults:1
want=$("$ENVPACK" inspect demo/faults:1 --json | jget '["digest"]')
n=0
push_through() {  # push_through RULES [ARGS...]: pushes demo/faults:1 through a fresh proxy to a new repo
    local rules=$1; shift
    n=$((n + 1))
    start_fault_proxy "p$n" "$R" "$rules"
    local proxy_var="PROXY_p$n" log_var="PROXY_LOG_p$n"
    P=${!proxy_var}; PLOG=${!log_var}; REPO="faults/push$n"
    set +e
    "$ENVPACK" push demo/faults:1 "$P/$REPO:1" --json "$@" >"$S/out$n" 2>"$S/err$n"
    RC=$?
    set -e
}
pull_through() {  # pull_through RULES REPO [ARGS...]: pulls REPO:1 through a fresh proxy into a fresh home
    local rules=$1 repo=$2; shift 2
    n=$((n + 1))
    start_fault_proxy "p$n" "$R" "$rules"
    local proxy_var="PROXY_p$n" log_var="PROXY_LOG_p$n"
    P=${!proxy_var}; PLOG=${!log_var}; REF="$P/$repo:1"
    set +e
    ENVPACK_HOME=$S/pull$n "$ENVPACK" pull "$REF" --json "$@" >"$S/out$n" 2>"$S/err$n"
    RC=$?
    set -e
}
expect_pushed() {
    [ $RC = 0 ] || fail "push $n failed: $(cat "$S/err$n")"
    [ "$(jget '["digest"]' <"$S/out$n")" = "$want" ] || fail "push $n digest"
    [ "$(skopeo_digest "$R/$REPO:1")" = "$want" ] || fail "push $n: the registry has another digest"
}
expect_pulled() {
    [ $RC = 0 ] || fail "pull $n failed: $(cat "$S/err$n")"
    [ "$(jget '["digest"]' <"$S/out$n")" = "$want" ] || fail "pull $n digest"
    [ "$(ENVPACK_HOME=$S/pull$n "$ENVPACK" inspect "$REF" --json | jget '["digest"]')" = "$want" ] || fail "pull $n stored digest"
    # every blob in the store verifies
    for b in "$S/pull$n"/store/blobs/sha256/*; do
        [ "$(sha256sum "$b" | cut -d' ' -f1)" = "$(basename "$b")" ] || fail "pull $n: corrupt blob $b stored"
    done
}

echo "== dropped connections on HEAD, POST and PUT"
push_through '[{"match": "^HEAD /v2/.*/blobs/", "action": "drop", "times": 2},
               {"match": "^POST ", "action": "drop", "times": 1},
               {"match": "^PUT /v2/.*/blobs/uploads/", "action": "drop", "times": 2}]'
expect_pushed
[ "$(count "$PLOG" 'status == 0')" = 5 ] || fail "the drops did not all happen"

echo "== 500s on every kind of upload request"
push_through '[{"match": "^POST ", "action": "status", "status": 500, "times": 2},
               {"match": "^PUT /v2/.*/blobs/uploads/", "action": "status", "status": 503, "times": 2},
               {"match": "^PUT /v2/.*/manifests/", "action": "status", "status": 502, "times": 1}]'
expect_pushed

echo "== 500s on PATCH chunks"
push_through '[{"match": "^PATCH ", "action": "status", "status": 500, "times": 3}]' --chunk-size 65536
expect_pushed

echo "== 429 with Retry-After: 2 is honoured"
start=$(date +%s.%N)
push_through '[{"match": "^HEAD /v2/.*/blobs/", "action": "retry_after", "seconds": 2, "times": 1}]' --parallel 1
elapsed=$("$PY" -c "import sys;print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$start" "$(date +%s.%N)")
expect_pushed
echo "   elapsed ${elapsed}s"
"$PY" -c "import sys;sys.exit(0 if float(sys.argv[1]) >= 2 else 1)" "$elapsed" || fail "Retry-After not honoured (${elapsed}s)"
grep -q "HTTP 429, retrying in 2.0 s" "$S/err$n" || fail "no retry message: $(cat "$S/err$n")"

echo "== a push that keeps failing leaves no manifest behind"
push_through '[{"match": "^PUT /v2/.*/blobs/uploads/", "action": "status", "status": 500, "times": -1}]' --retries 1
[ $RC = 1 ] || fail "persistent 500 should fail with exit 1 (got $RC)"
grep -q "gave up after 2 attempts" "$S/err$n" || fail "unclear error: $(cat "$S/err$n")"
grep -q "HTTP 500" "$S/err$n" || fail "error does not say what the registry answered: $(cat "$S/err$n")"
code=$(curl -s -o /dev/null -w '%{http_code}' -I "http://$R/v2/$REPO/manifests/1")
[ "$code" = 404 ] || fail "a manifest was written after a failed push (HTTP $code)"
[ "$(count "$PLOG" 'method == "PUT" and "/manifests/" in path')" = 0 ] || fail "the manifest was PUT"

# Source repository for the pulls.
"$ENVPACK" push demo/faults:1 "$R/faults/src:1" >/dev/null

echo "== pull: dropped connections and 500s on blobs and manifests"
pull_through '[{"match": "^GET /v2/.*/manifests/", "action": "drop", "times": 1},
               {"match": "^GET /v2/.*/blobs/", "action": "status", "status": 500, "times": 2},
               {"match": "^GET /v2/.*/blobs/", "action": "drop", "times": 2}]' faults/src
expect_pulled

echo "== pull: a connection cut in the middle of a blob resumes"
pull_through '[{"match": "^GET /v2/.*/blobs/", "action": "drop_mid", "times": 3}]' faults/src
expect_pulled
[ "$(count "$PLOG" 'action == "drop_mid"')" = 3 ] || fail "no mid-blob cuts happened"

echo "== pull: a persistent 503 on blobs costs 1 + retries GETs per blob (one owner of retries)"
pull_through '[{"match": "^GET /v2/.*/blobs/", "action": "status", "status": 503, "times": -1}]' faults/src --retries 2
[ $RC = 1 ] || fail "persistent 503 should fail with exit 1 (got $RC)"
grep -q "HTTP 503" "$S/err$n" || fail "error does not say what the registry answered: $(cat "$S/err$n")"
"$PY" - "$PLOG" <<'PY' || fail "blob GETs per blob: $(cat "$PLOG")"
import collections, json, sys
gets = collections.Counter(e["path"] for e in map(json.loads, open(sys.argv[1]))
                           if e["method"] == "GET" and "/blobs/" in e["path"])
print("   GETs per blob:", sorted(gets.values()))
assert gets and all(n == 3 for n in gets.values()), gets  # 1 + 2 retries each, never 3 x 3
PY
if ENVPACK_HOME=$S/pull$n "$ENVPACK" inspect "$REF" >/dev/null 2>&1; then fail "a failed pull tagged the image"; fi

echo "== pull: a slow link"
start=$(date +%s.%N)
pull_through '[{"match": "^GET /v2/.*/blobs/", "action": "slow", "rate": 400000, "times": -1}]' faults/src
elapsed=$("$PY" -c "import sys;print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$start" "$(date +%s.%N)")
expect_pulled
echo "   elapsed ${elapsed}s"

echo "== pull: a blob with wrong bytes is fetched again"
pull_through '[{"match": "^GET /v2/.*/blobs/", "action": "corrupt", "times": 2}]' faults/src
expect_pulled
grep -q "digest mismatch" "$S/err$n" || fail "the corruption was not reported: $(cat "$S/err$n")"

echo "== pull: a blob that is always wrong fails clearly and tags nothing"
pull_through '[{"match": "^GET /v2/.*/blobs/", "action": "corrupt", "times": -1}]' faults/src --retries 1
[ $RC = 1 ] || fail "persistent corruption should fail with exit 1 (got $RC)"
grep -q "digest mismatch" "$S/err$n" && grep -q "gave up after 2 attempts" "$S/err$n" || fail "unclear error: $(cat "$S/err$n")"
if ENVPACK_HOME=$S/pull$n "$ENVPACK" inspect "$REF" >/dev/null 2>&1; then fail "a failed pull tagged the image"; fi
for b in "$S/pull$n"/store/blobs/sha256/*; do
    [ -e "$b" ] || continue
    [ "$(sha256sum "$b" | cut -d' ' -f1)" = "$(basename "$b")" ] || fail "corrupt blob stored: $b"
done

echo "== pull: a manifest with wrong bytes is refused"
pull_through '[{"match": "^GET /v2/.*/manifests/", "action": "corrupt", "times": -1}]' faults/src --retries 1
[ $RC = 1 ] || fail "corrupt manifest should fail (got $RC)"
grep -Eq "hash to|not JSON" "$S/err$n" || fail "unclear manifest error: $(cat "$S/err$n")"
if ENVPACK_HOME=$S/pull$n "$ENVPACK" inspect "$REF" >/dev/null 2>&1; then fail "a refused manifest was tagged"; fi

echo "PASS"
