#!/bin/bash
# envpack push/pull against Debian's docker-registry (CNCF distribution), with skopeo as the oracle:
# push with envpack -> skopeo inspect/copy back, same digests; push with skopeo (OCI and Docker v2)
# -> pull with envpack, same digests; chunked uploads; re-push is HEADs only; cross-repository
# mount; an index resolved to linux/amd64 (and --platform); relative Location headers via a proxy.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need docker-registry skopeo curl

start_registry main
R=$REG_main

# An image of 5 layers (~200 kB each) in the local store.
"$PY" "$FIXTURES/make_layout.py" --layout "$S/src" --tag src --layers 5 --bytes 200000 >/dev/null
skopeo copy -q oci:"$S/src":src oci:"$ENVPACK_HOME/store":demo/multi:1
local_digest=$("$ENVPACK" inspect demo/multi:1 --json | jget '["digest"]')

echo "== envpack push -> skopeo inspect / copy"
out=$("$ENVPACK" push demo/multi:1 "$R/team/multi:1" --json)
pushed=$(echo "$out" | jget '["digest"]')
[ "$pushed" = "$local_digest" ] || fail "pushed digest $pushed != local $local_digest"
[ "$(echo "$out" | jget '["uploaded"].__len__()')" = 6 ] || fail "expected 6 uploads: $out"
[ "$(skopeo_digest "$R/team/multi:1")" = "$local_digest" ] || fail "skopeo sees another digest"
skopeo copy -q --src-tls-verify=false docker://"$R/team/multi:1" oci:"$S/back":back
"$PY" - "$S/back" "$local_digest" <<'PY'
import json, sys
idx = json.load(open(sys.argv[1] + "/index.json"))
assert idx["manifests"][0]["digest"] == sys.argv[2], idx
PY
echo "== a push to another repository mounts what an earlier push uploaded (blob-location hints)"
out=$("$ENVPACK" push demo/multi:1 "$R/elsewhere/multi:1" --json)
echo "$out" | "$PY" -c 'import json,sys;j=json.load(sys.stdin);assert len(j["mounted"])==6 and not j["uploaded"], j'
[ "$(skopeo_digest "$R/elsewhere/multi:1")" = "$local_digest" ] || fail "mounted push digest"

echo "== a mount that the registry cannot do (202) falls back to an upload"
start_fault_proxy mnt "$R" '[]'
"$PY" - "$ENVPACK_HOME/registry-blobs.json" "$R" "$PROXY_mnt" <<'PY'
import json, sys
path, host, proxy = sys.argv[1:4]
j = json.load(open(path))
j[proxy] = {d: "no/such-repo" for d in j[host]}
json.dump(j, open(path, "w"))
PY
out=$("$ENVPACK" push demo/multi:1 "$PROXY_mnt/fallback/multi:1" --json)
echo "$out" | "$PY" -c 'import json,sys;j=json.load(sys.stdin);assert len(j["uploaded"])==6 and not j["mounted"], j'
[ "$(grep -c '"POST", "path": "/v2/fallback/multi/blobs/uploads/?mount=.*&from=no/such-repo", "action": null, "status": 202' "$PROXY_LOG_mnt")" = 6 ] \
    || fail "expected 6 mount attempts answered 202: $(cat "$PROXY_LOG_mnt")"
[ "$(grep -c '"POST", "path": "/v2/fallback/multi/blobs/uploads/"' "$PROXY_LOG_mnt")" = 0 ] \
    || fail "the 202 upload session of the mount was not reused"
[ "$(skopeo_digest "$R/fallback/multi:1")" = "$local_digest" ] || fail "fallback push digest"

# the bare-SRC form: SRC names a registry
skopeo copy -q oci:"$S/src":src oci:"$ENVPACK_HOME/store":"$R/team/self:2"
"$ENVPACK" push "$R/team/self:2" >/dev/null
[ "$(skopeo_digest "$R/team/self:2")" = "$local_digest" ] || fail "push SRC without DEST"

echo "== re-push of an unchanged image: HEADs only"
start_fault_proxy watch "$R" '[]'
out=$("$ENVPACK" push demo/multi:1 "$PROXY_watch/team/multi:1" --json)
echo "$out" | "$PY" -c 'import json,sys;j=json.load(sys.stdin);assert len(j["skipped"])==6 and not j["uploaded"], j'
"$PY" - "$PROXY_LOG_watch" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
methods = sorted({r["method"] for r in reqs})
assert not any("/blobs/uploads" in r["path"] for r in reqs), reqs
assert not any(r["method"] in ("POST", "PATCH") for r in reqs), reqs
assert sum(1 for r in reqs if r["method"] == "HEAD") == 7, reqs
assert not any(r["method"] == "PUT" for r in reqs), reqs
print("   requests:", len(reqs), "methods:", methods)
PY

echo "== chunked upload (PATCH with Content-Range), relative Location headers"
start_fault_proxy rel "$R" '[{"match": "^(POST|PATCH) ", "action": "relative", "times": -1}]'
"$ENVPACK" push demo/multi:1 "$PROXY_rel/chunky/multi:1" --chunk-size 32768 --json >/dev/null
[ "$(skopeo_digest "$R/chunky/multi:1")" = "$local_digest" ] || fail "chunked push digest"
[ "$(grep -c '"PATCH"' "$PROXY_LOG_rel")" -ge 15 ] || fail "expected several PATCH chunks per layer"

echo "== skopeo push (OCI and Docker v2) -> envpack pull, same digests"
"$PY" "$FIXTURES/make_layout.py" --layout "$S/sk" --tag sk --layers 3 --bytes 150000 --seed 7 >/dev/null
skopeo copy -q --dest-tls-verify=false oci:"$S/sk":sk docker://"$R/from/skopeo:oci"
skopeo copy -q --dest-tls-verify=false --format v2s2 oci:"$S/sk":sk docker://"$R/from/skopeo:v2s2"
for tag in oci v2s2; do
    want=$(skopeo_digest "$R/from/skopeo:$tag")
    got=$("$ENVPACK" pull "$R/from/skopeo:$tag" --json | jget '["digest"]')
    [ "$got" = "$want" ] || fail "pull $tag: $got != $want"
    stored=$("$ENVPACK" inspect "$R/from/skopeo:$tag" --json | jget '["digest"]')
    [ "$stored" = "$want" ] || fail "stored $tag digest $stored != $want"
done
out=$("$ENVPACK" pull "$R/from/skopeo:v2s2" --json)
grep -q 'application/vnd.docker.distribution.manifest.v2+json' <<<"$out" || fail "docker v2 media type lost"
# skopeo reads the store back and finds the same image (skopeo's oci: transport lists only OCI
# media types, so the Docker v2 one is checked by digest above)
[ "$(skopeo inspect --format '{{.Digest}}' oci:"$ENVPACK_HOME/store:$R/from/skopeo:oci")" = \
  "$(skopeo_digest "$R/from/skopeo:oci")" ] || fail "skopeo cannot read the pulled image from the store"
"$ENVPACK" pull "$R/from/skopeo:oci" --json | "$PY" -c 'import json,sys;j=json.load(sys.stdin);assert j["downloaded"]==0, j'

echo "== pull by digest"
want=$(skopeo_digest "$R/from/skopeo:oci")
out=$("$ENVPACK" pull "$R/from/skopeo@$want" --json)
grep -q "$want" <<<"$out" || fail "pull by digest"

echo "== cross-repository mount"
out=$("$ENVPACK" push "$R/from/skopeo:oci" "$R/other/place:1" --json)
echo "$out" | "$PY" -c 'import json,sys;j=json.load(sys.stdin);assert len(j["mounted"])==4 and not j["uploaded"], j'
[ "$(skopeo_digest "$R/other/place:1")" = "$want" ] || fail "mounted image digest"

echo "== index: linux/amd64 by default, --platform linux/arm64"
"$PY" "$FIXTURES/make_layout.py" --layout "$S/multi" --tag multi --layers 2 --bytes 50000 \
    --platforms linux/arm64,linux/amd64 >/dev/null
skopeo copy -q --all --dest-tls-verify=false oci:"$S/multi":multi docker://"$R/multi/arch:1"
amd=$(skopeo inspect --tls-verify=false --override-arch amd64 --format '{{.Digest}}' docker://"$R/multi/arch:1" 2>/dev/null || true)
"$ENVPACK" pull "$R/multi/arch:1" --json > "$S/pull.json"
got=$(jget '["digest"]' < "$S/pull.json")
jget '["index_digest"]' < "$S/pull.json" >/dev/null || fail "no index digest reported"
out=$("$ENVPACK" inspect "$R/multi/arch:1")
grep -q 'linux/amd64' <<<"$out" || fail "default platform is not amd64"
"$ENVPACK" pull "$R/multi/arch:1" --platform linux/arm64 --json >/dev/null
out=$("$ENVPACK" inspect "$R/multi/arch:1")
grep -q 'linux/arm64' <<<"$out" || fail "--platform linux/arm64 not honoured"
set +e
err=$("$ENVPACK" pull "$R/multi/arch:1" --platform linux/s390x 2>&1); rc=$?
set -e
[ $rc = 2 ] || fail "missing platform should be exit 2, got $rc: $err"
echo "$err" | grep -q "linux/amd64" || fail "missing platform error does not list platforms: $err"

echo "== push an index (all platforms) back"
skopeo copy -q --all oci:"$S/multi":multi oci:"$ENVPACK_HOME/store":demo/allarch:1
idx=$("$ENVPACK" push demo/allarch:1 "$R/multi/pushed:1" --json | jget '["digest"]')
[ "$(skopeo inspect --raw --tls-verify=false docker://"$R/multi/pushed:1" | sha256sum | cut -d' ' -f1)" = "${idx#sha256:}" ] \
    || fail "pushed index bytes differ"

echo "PASS"
