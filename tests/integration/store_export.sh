#!/bin/bash
# export --format oci is an OCI archive skopeo reads; --format docker is the docker-load layout
# (manifest.json, config, uncompressed layer.tar files whose sha256 are the diff_ids).
. "$(dirname "$0")/lib.sh"
need skopeo
mkdir -p "$SCRATCH/src/bin"; echo hi > "$SCRATCH/src/bin/x"
digest=$("$ENVPACK" import "$SCRATCH/src" -t exp/img:2 | awk '{print $2}')
"$ENVPACK" export exp/img:2 -o "$SCRATCH/oci.tar" --format oci >/dev/null
out=$(skopeo inspect "oci-archive:$SCRATCH/oci.tar:exp/img:2")
grep -q "\"Digest\": \"$digest\"" <<<"$out" || fail "oci archive digest"
"$ENVPACK" export exp/img:2 -o "$SCRATCH/docker.tar" --format docker >/dev/null
/usr/bin/python3 - "$SCRATCH/docker.tar" "$ENVPACK_HOME/store" "$digest" <<'PY'
import hashlib, json, sys, tarfile
t = tarfile.open(sys.argv[1])
m = json.load(t.extractfile("manifest.json"))
assert len(m) == 1 and m[0]["RepoTags"] == ["exp/img:2"], m
cfg = json.load(t.extractfile(m[0]["Config"]))
ids = cfg["rootfs"]["diff_ids"]
assert len(ids) == len(m[0]["Layers"]) == 1
for lid, path in zip(ids, m[0]["Layers"]):
    data = t.extractfile(path).read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == lid, (path, lid)
    inner = tarfile.open(fileobj=__import__("io").BytesIO(data))
    assert inner.extractfile("bin/x").read() == b"hi\n"
PY
# docker-archive is also what skopeo reads as `docker-archive:`.
skopeo inspect "docker-archive:$SCRATCH/docker.tar" >/dev/null || fail "skopeo cannot read the docker archive"
expect_exit 2 "$ENVPACK" export exp/img:2 -o "$SCRATCH/x.tar" --format rpm
expect_exit 2 "$ENVPACK" export exp/none:1 -o "$SCRATCH/x.tar"
[ -e "$SCRATCH/x.tar" ] && fail "failed export left a file"
echo "export ok"
