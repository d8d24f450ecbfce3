#!/usr/bin/env bash
# End to end: a local channel made here (text and binary prefix placeholders, symlinks, a
# dependency, a noarch: python package with an entry point, an old-style info/files package),
# indexed by `envpack index`, locked by `envpack lock`, built on a busybox base imported with
# `envpack import`, read by skopeo and umoci, and run with runc at the new prefix.
# The python in the channel is a stand-in (a shell script): the noarch part is checked by the
# layout (lib/python3.11/site-packages) and the entry-point script's text, not by running python.
source "$(dirname "$0")/lib.sh"
need skopeo umoci runc zstd /usr/bin/python3
[ -x /bin/busybox ] || skip "busybox-static is not installed"
[ "$(id -u)" = 0 ] || skip "runc needs root"
S=$SCRATCH
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" \
  "$ENVPACK_SOURCE_DIR/tests/fixtures/conda_e2e_spec.json" "$S/channel" >/dev/null
"$ENVPACK" index "$S/channel" >"$S/index.out"
grep -q 'linux-64/repodata.json: 3 packages' "$S/index.out" || { cat "$S/index.out"; fail "index linux-64"; }
grep -q 'noarch/repodata.json: 1 packages' "$S/index.out" || fail "index noarch"
/usr/bin/python3 - "$S/channel" <<'PY'
import json, sys, hashlib
r = json.load(open(sys.argv[1] + "/linux-64/repodata.json"))
assert r["info"]["subdir"] == "linux-64", r["info"]
assert "hello-1.0-0.conda" in r["packages.conda"], r.keys()
rec = r["packages"]["hello-data-1.0-0.tar.bz2"]
data = open(sys.argv[1] + "/linux-64/hello-data-1.0-0.tar.bz2", "rb").read()
assert rec["sha256"] == hashlib.sha256(data).hexdigest() and rec["size"] == len(data), rec
assert r["packages.conda"]["hello-1.0-0.conda"]["depends"] == ["hello-data"]
PY

cat >"$S/env.yml" <<'YML'
name: demo
channels:
  - ./channel
dependencies:
  - hello
  - hellopy
variables:
  GREETING: bonjour
YML
"$ENVPACK" lock -f "$S/env.yml" >/dev/null
[ -f "$S/conda-lock.yml" ] || fail "no lock written"

mkdir -p "$S/rootfs/bin" "$S/rootfs/tmp"
cp /bin/busybox "$S/rootfs/bin/busybox"
for a in sh cat echo grep strings ls; do ln -s busybox "$S/rootfs/bin/$a"; done
"$ENVPACK" import "$S/rootfs" -t test/base:1 >/dev/null

"$ENVPACK" build -f "$S/env.yml" --base test/base:1 -t test/env:1 --prefix /opt/env --json >"$S/build.json"
digest=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert not d["cached"]; print(d["digest"])' "$S/build.json")

# Read by skopeo and umoci.
skopeo inspect "oci:$ENVPACK_HOME/store:test/env:1" >"$S/skopeo.json"
/usr/bin/python3 - "$S/skopeo.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["Layers"]) >= 3, d["Layers"]
labels = d["Labels"]
pk = json.loads(labels["org.envpack.packages"])
assert sorted(p["name"] for p in pk) == ["hello", "hello-data", "hellopy", "python"], pk
assert labels["org.envpack.lock-digest"].startswith("sha256:")
env = dict(e.split("=", 1) for e in d["Env"])
assert env["CONDA_PREFIX"] == "/opt/env" and env["PATH"].startswith("/opt/env/bin:"), env
assert env["GREETING"] == "bonjour", env
PY
raw=$(skopeo inspect --raw "oci:$ENVPACK_HOME/store:test/env:1")
grep -q '"org.opencontainers.image.base.name":"test/base:1"' <<<"$raw" || fail "no base.name annotation"
umoci unpack --image "$ENVPACK_HOME/store:test/env:1" "$S/bundle" >/dev/null
R=$S/bundle/rootfs/opt/env
[ "$(readlink "$R/bin/hi")" = hello ] || fail "symlink bin/hi"
grep -q 'PREFIX=/opt/env$' "$R/bin/hello" || fail "text prefix not replaced"
[ "$(stat -c %s "$R/lib/hello.bin")" = 61 ] || fail "binary file changed size: $(stat -c %s "$R/lib/hello.bin")"
/usr/bin/python3 - "$R/lib/hello.bin" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
assert b"/opt/env/lib/plugins\0" in b and b"anaconda" not in b, b
PY
[ -f "$R/lib/python3.11/site-packages/hellopy/cli.py" ] || fail "noarch site-packages"
[ -x "$R/bin/hellopy-tool" ] || fail "python-scripts -> bin"
head -1 "$R/bin/hellopy" | grep -qx '#!/opt/env/bin/python' || fail "entry point shebang"
grep -q '^from hellopy.cli import main$' "$R/bin/hellopy" || fail "entry point import"
grep -q 'fake python at /opt/env' "$R/bin/python3.11" || fail "has_prefix (old-style) not replaced"
for m in hello-1.0-0 hello-data-1.0-0 hellopy-2.0-py_0 python-3.11.4-0; do
  [ -f "$R/conda-meta/$m.json" ] || fail "conda-meta/$m.json missing"
done
grep -q '"lib/python3.11/site-packages/hellopy/cli.py"' "$R/conda-meta/hellopy-2.0-py_0.json" || fail "conda-meta files"
grep -q '^+.*::hello-1.0-0$' "$R/conda-meta/history" || fail "history"

# Run it with runc at the new prefix.
/usr/bin/python3 - "$S/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/opt/env/bin/hi"]
json.dump(c, open(p, "w"))
PY
id=envpack-e2e-$$
cleanup "runc delete -f $id >/dev/null 2>&1"
(cd "$S/bundle" && runc run "$id" </dev/null >"$S/run.out" 2>"$S/run.err") || { cat "$S/run.err"; fail "runc run"; }
cat "$S/run.out"
grep -qx 'hello from hello-data' "$S/run.out" || fail "dependency's file not read"
grep -qx 'prefix=/opt/env' "$S/run.out" || fail "prefix in the container"
grep -qx 'binary=/opt/env/lib/plugins' "$S/run.out" || fail "binary prefix in the container"
grep -qx 'GREETING=bonjour CONDA_PREFIX=/opt/env' "$S/run.out" || fail "environment variables"

# A rebuild finds the image by its key.
"$ENVPACK" build -f "$S/env.yml" --base test/base:1 -t test/env:1 --prefix /opt/env --json >"$S/build2.json"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["cached"] and d["digest"]==sys.argv[2], d' \
  "$S/build2.json" "$digest"

# Reproducible: a fresh ENVPACK_HOME with the same lock and base gives the same manifest digest.
export ENVPACK_HOME=$S/home2
"$ENVPACK" import "$S/rootfs" -t test/base:1 >/dev/null
"$ENVPACK" build -f "$S/env.yml" --base test/base:1 -t test/env:1 --prefix /opt/env --json >"$S/build3.json"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["digest"]==sys.argv[2], (d["digest"], sys.argv[2])' \
  "$S/build3.json" "$digest"
echo "ok: $digest"
