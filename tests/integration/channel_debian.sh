#!/usr/bin/env bash
# The walkthrough's offline conda channel (examples/digits/channel/make-channel): real .conda
# packages made from Debian's python3.11, python3-numpy and python3-mpi4py, indexed, locked and
# built into an environment image on the small base image (the base_image fixture, base-image.env),
# unpacked with `envpack unpack` and run under runc:
# 1. the channel's metadata is what conda reads (index.json, paths.json with sha256/size, prefix
#    placeholders, the depends);
# 2. inside the image the conda python is the one that runs: sys.executable, numpy.__file__,
#    mpi4py.__file__, sys.prefix, site-packages and sysconfig's purelib all under /opt/conda, the
#    base image's Debian dist-packages are not on sys.path, and the packaged .pyc files are valid
#    (python writes none);
# 3. an mpi4py allreduce over 2 ranks (mpirun inside one container) runs on the conda python;
# 4. the channel is deterministic: made twice (the second time while 2 and 3 run), every package
#    has the same sha256.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "runc needs root"
need runc zstd readelf jq dpkg-query
for p in python3.11-minimal libpython3.11-stdlib python3-numpy python3-mpi4py libopenmpi3; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || skip "Debian package $p is not installed (make deps installs it)"
done
# lap: LAP = seconds (one decimal) since the last lap or the start, for the timings printed.
now_ms() { echo $(( ${EPOCHREALTIME//[.,]/} / 1000 )); }
start_ms=$(now_ms); phase_ms=$start_ms
lap() { local now; now=$(now_ms); LAP=$(( (now - phase_ms) / 1000 )).$(( (now - phase_ms) % 1000 / 100 )); phase_ms=$now; }
digits="$ENVPACK_SOURCE_DIR/examples/digits"
make_channel="$digits/channel/make-channel"
mkdir -p "$S/digits"
cp "$digits/conda_dependencies.yml" "$S/digits/"

# 1. The channel, made and indexed; its metadata.
"$make_channel" "$S/digits/channel" --envpack "$ENVPACK" > "$S/make1.out" 2>&1 || { cat "$S/make1.out"; fail "make-channel"; }
lap; t_make=$LAP
cat "$S/make1.out"
# The second making (part 4) runs beside the build and the containers, with another hash seed.
PYTHONHASHSEED=7 "$make_channel" "$S/again" --no-index > "$S/make2.out" 2>&1 &
make2=$!
track_pid "$make2"
(cd "$S/digits/channel/linux-64" && sha256sum -- *.conda) > "$S/sums1"
[ "$(wc -l < "$S/sums1")" = 4 ] || fail "expected 4 packages: $(cat "$S/sums1")"
grep -q 'linux-64/repodata.json: 4 packages' "$S/make1.out" || fail "envpack index did not index 4 packages"
/usr/bin/python3 - "$S/digits/channel" <<'PY' || fail "channel metadata"
import hashlib, io, json, os, subprocess, sys, tarfile, zipfile
ch = sys.argv[1]
repo = json.load(open(f"{ch}/linux-64/repodata.json"))["packages.conda"]
by_name = {r["name"]: (fn, r) for fn, r in repo.items()}
assert sorted(by_name) == ["mpi4py", "numpy", "openmpi", "python"], by_name.keys()
assert by_name["python"][1]["version"].startswith("3.11."), by_name["python"]
assert "python >=3.11,<3.12.0a0" in by_name["numpy"][1]["depends"], by_name["numpy"]
assert any(d.startswith("openmpi >=4.1") for d in by_name["mpi4py"][1]["depends"]), by_name["mpi4py"]
assert any(d.startswith("__glibc >=2.") for d in by_name["python"][1]["depends"]), by_name["python"]

def members(fn):
    z = zipfile.ZipFile(f"{ch}/linux-64/{fn}")
    assert z.namelist()[0] == "metadata.json", z.namelist()
    out = {}
    for part in ("info", "pkg"):
        name = next(n for n in z.namelist() if n.startswith(part + "-"))
        raw = subprocess.run(["zstd", "-dc"], input=z.read(name), capture_output=True, check=True).stdout
        t = tarfile.open(fileobj=io.BytesIO(raw))
        out[part] = {m.name: (m, t.extractfile(m).read() if m.isfile() else None) for m in t}
    return out

fn, rec = by_name["python"]
m = members(fn)
index = json.loads(m["info"]["info/index.json"][1])
assert {k: index[k] for k in ("name", "version", "build", "subdir")} == \
    {k: rec[k] for k in ("name", "version", "build", "subdir")}, (index, rec)
paths = json.loads(m["info"]["info/paths.json"][1])["paths"]
assert len(paths) == len(m["pkg"]), (len(paths), len(m["pkg"]))
for p in paths:
    info, data = m["pkg"][p["_path"]]
    if p["path_type"] == "hardlink":
        assert hashlib.sha256(data).hexdigest() == p["sha256"] and len(data) == p["size_in_bytes"], p
    else:
        assert info.issym(), p
    assert info.uid == 0 and info.gid == 0 and info.uname == "", p
placeholders = {p["_path"] for p in paths if "prefix_placeholder" in p}
assert "lib/python3.11/_sysconfigdata__x86_64-linux-gnu.py" in placeholders, placeholders
assert "bin/pydoc3.11" in placeholders, placeholders
assert b"/opt/anaconda1anaconda2anaconda3/bin/python3.11" in m["pkg"]["bin/pydoc3.11"][1]
assert "lib/python3.11/site-packages" not in {os.path.dirname(p) for p in m["pkg"]}
about = json.loads(m["info"]["info/about.json"][1])
assert "libexpat.so.1" in about["extra"]["system_libraries"], about
fn, _ = by_name["numpy"]
pkg = members(fn)["pkg"]
assert "lib/python3.11/site-packages/numpy/__init__.py" in pkg
assert "lib/python3.11/site-packages/numpy/__pycache__/__init__.cpython-311.pyc" in pkg
PY
echo "1. channel made and indexed in $t_make s, metadata checked"

# 2. Locked and built on the base image, unpacked, run under runc.
use_base_image  # base-image.env: BASE_IMAGE_REF in this ENVPACK_HOME's store
"$ENVPACK" build -f "$S/digits/conda_dependencies.yml" --base "$BASE_IMAGE_REF" -t digits/env:test --json \
  > "$S/build.json" 2> "$S/build.err" || { cat "$S/build.err"; fail "envpack build"; }
grep -qE 'name: (python|numpy|mpi4py|openmpi)$' "$S/digits/conda-lock.yml" || fail "lock: $(cat "$S/digits/conda-lock.yml")"
[ "$(grep -cE "^ *url: .*file://.*/digits/channel/linux-64/(python|numpy|mpi4py|openmpi)-[^/]*\.conda" "$S/digits/conda-lock.yml")" = 4 ] \
  || fail "the lock does not take the 4 packages from the channel: $(cat "$S/digits/conda-lock.yml")"
# The pip list, locked after the conda solve as conda-lock records it.
/usr/bin/python3 - "$S/digits/conda-lock.yml" <<'PY' || fail "pip packages in the lock: $(cat "$S/digits/conda-lock.yml")"
import hashlib, sys, yaml
pkgs = yaml.safe_load(open(sys.argv[1]))["package"]
pip = {p["name"]: p for p in pkgs if p["manager"] == "pip"}
assert sorted(pip) == ["pip", "setuptools"], sorted(pip)
assert pip["setuptools"]["version"] == "66.1.1", pip["setuptools"]
for p in pip.values():
    path = p["url"].removeprefix("file://")
    assert path.startswith("/usr/share/python-wheels/") and path.endswith(".whl"), p
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == p["hash"]["sha256"], p
    assert p["platform"] == "linux-64" and p["category"] == "main", p
PY
"$ENVPACK" unpack digits/env:test -o "$S/bundle/rootfs" > /dev/null || fail "envpack unpack"
R="$S/bundle/rootfs"
[ -x "$R/opt/conda/bin/python3.11" ] || fail "no conda python in the image"
compgen -G "$R/opt/conda/conda-meta/numpy-1.*.json" > /dev/null || fail "no conda-meta record of numpy"
grep -q "^#!/opt/conda/bin/python3.11$" "$R/opt/conda/bin/pydoc3.11" || fail "pydoc's #! was not rewritten: $(head -1 "$R/opt/conda/bin/pydoc3.11")"
grep -q "'prefix': '/opt/conda'" "$R/opt/conda/lib/python3.11/_sysconfigdata__x86_64-linux-gnu.py" || fail "_sysconfigdata prefix"
[ -d "$R/usr/lib/python3/dist-packages/numpy" ] || fail "the base image's own numpy is missing (the test would prove nothing)"
# The pip packages: their own layer(s) above the conda ones, in the package label, installed as pip
# installs them (INSTALLER, RECORD, console scripts naming the conda python).
sp="$R/opt/conda/lib/python3.11/site-packages"
[ "$(cat "$sp/setuptools-66.1.1.dist-info/INSTALLER")" = envpack ] || fail "setuptools INSTALLER"
[ -f "$sp/pip-23.0.1.dist-info/REQUESTED" ] || fail "pip was requested: no REQUESTED"
grep -q "^pip/__init__.py,sha256=" "$sp/pip-23.0.1.dist-info/RECORD" || fail "pip RECORD"
head -1 "$R/opt/conda/bin/pip" | grep -qx '#!/opt/conda/bin/python' || fail "pip's script: $(head -1 "$R/opt/conda/bin/pip")"
"$ENVPACK" inspect digits/env:test --json > "$S/inspect.json"
jq -r '.layers[].created_by // ""' "$S/inspect.json" > "$S/created_by"
# The last layers: pip's above the conda packages', then conda-meta.
pip_layers=$(head -n -1 "$S/created_by" | tac | sed -n '/^envpack build: pip /!q;p')
grep -q 'pip-23.0.1' <<<"$pip_layers" && grep -q 'setuptools-66.1.1' <<<"$pip_layers" \
  && tail -1 "$S/created_by" | grep -qx 'envpack build: conda-meta' \
  || fail "the pip packages are not in the layers just below conda-meta: $(cat "$S/created_by")"
jq -r '.labels["org.envpack.packages"]' "$S/inspect.json" | jq -e '.[] | select(.name == "setuptools" and .version == "66.1.1" and .channel == "pypi")' >/dev/null \
  || fail "setuptools not in the package label: $(jq -r '.labels["org.envpack.packages"]' "$S/inspect.json")"
lap; echo "   locked, built and unpacked in $LAP s"
touch "$S/before-runs"

# The image's environment (PATH with /opt/conda/bin first), from its config.
env_json=$("$ENVPACK" inspect digits/env:test --json | jq -c '.env // []')
[ "$(jq length <<<"$env_json")" -gt 0 ] || fail "no Env in the image config: $("$ENVPACK" inspect digits/env:test --json)"
(cd "$S/bundle" && runc spec)
run_in() {
  local id="envpack-channel-$$-$1"; shift
  jq --argjson args "$(/usr/bin/python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@")" --argjson env "$env_json" --arg root "$R" '
      .root = {path: $root, readonly: false} | .process.terminal = false | .process.args = $args
      | .process.env = $env | .process.cwd = "/tmp"
      | .linux.namespaces |= map(select(.type != "network"))' \
    "$S/bundle/config.json" > "$S/bundle/config.json.new"
  mv "$S/bundle/config.json.new" "$S/bundle/config.json"
  cleanup "runc delete -f $id >/dev/null 2>&1"
  (cd "$S/bundle" && runc run "$id" < /dev/null)
}
out=$(run_in py python -c '
import site, sys, sysconfig, numpy, mpi4py, setuptools
print("exe", sys.executable)
print("setuptools", setuptools.__file__, setuptools.__version__)
print("numpy", numpy.__file__)
print("mpi4py", mpi4py.__file__)
print("prefix", sys.prefix, sysconfig.get_config_var("prefix"))
print("purelib", sysconfig.get_paths()["purelib"])
print("site", *site.getsitepackages())
print("path", *sys.path)
print("sum", int(numpy.arange(10).sum()))
' 2>&1) || fail "python in the image: $out"
echo "$out" | grep -v '^path'
grep -qx 'exe /opt/conda/bin/python' <<<"$out" || fail "sys.executable"
grep -qx 'numpy /opt/conda/lib/python3.11/site-packages/numpy/__init__.py' <<<"$out" || fail "numpy.__file__"
grep -qx 'mpi4py /opt/conda/lib/python3.11/site-packages/mpi4py/__init__.py' <<<"$out" || fail "mpi4py.__file__"
grep -qx 'setuptools /opt/conda/lib/python3.11/site-packages/setuptools/__init__.py 66.1.1' <<<"$out" || fail "setuptools (pip list) does not import from the prefix"
grep -qx 'prefix /opt/conda /opt/conda' <<<"$out" || fail "sys.prefix / sysconfig prefix"
grep -qx 'purelib /opt/conda/lib/python3.11/site-packages' <<<"$out" || fail "sysconfig purelib"
grep -q '^site /opt/conda/lib/python3.11/site-packages' <<<"$out" || fail "site-packages"
grep -qx 'sum 45' <<<"$out" || fail "numpy does not compute"
! grep '^path' <<<"$out" | grep -q '/usr/lib/python3' || fail "the base image's dist-packages are on sys.path"
# A console script of the pip list runs with the conda python.
out=$(run_in pipcli pip --version 2>&1) || fail "pip's console script in the image: $out"
echo "$out"
grep -q '^pip 23.0.1 from /opt/conda/lib/python3.11/site-packages/pip (python 3.11)$' <<<"$out" || fail "pip --version"
# Checked-hash .pyc files that python accepts: it compiled nothing but the module whose source the
# install rewrote (the prefix in _sysconfigdata, which has no .pyc in the package on purpose).
# The pip list's wheels are installed as `pip install --no-compile` does: python may compile those.
written=$(cd "$R/opt/conda" && find . -newer "$S/before-runs" -name '*.pyc' ! -name '_sysconfigdata_*' \
  ! -path './lib/python3.11/site-packages/_distutils_hack/*' ! -path './lib/python3.11/site-packages/setuptools/*' \
  ! -path './lib/python3.11/site-packages/pkg_resources/*' ! -path './lib/python3.11/site-packages/pip/*')
[ -z "$written" ] || fail "python rewrote packaged .pyc files: $written"
lap; echo "2. conda python, numpy and mpi4py under /opt/conda; the base image's python left alone ($LAP s)"

# 3. Two MPI ranks in one container, both on the conda python.
out=$(run_in mpi mpirun --allow-run-as-root --oversubscribe -np 2 --mca btl self,tcp python -c '
import sys, numpy
from mpi4py import MPI
c = MPI.COMM_WORLD
total = c.allreduce(numpy.full(3, c.rank + 1.0), op=MPI.SUM)
mpi = MPI.Get_library_version().split(",")[0]
print(f"rank {c.rank} of {c.size}: allreduce {total.tolist()} on {sys.executable} {mpi}")
' 2>&1) || fail "mpirun in the image: $out"
echo "$out"
for r in 0 1; do
  grep -q "^rank $r of 2: allreduce \[3.0, 3.0, 3.0\] on /opt/conda/bin/python Open MPI v4.1" <<<"$out" || fail "rank $r"
done
lap; echo "3. mpi4py allreduce over 2 ranks on the conda python ($LAP s)"

# 4. Made twice, the same bytes.
wait "$make2" || { cat "$S/make2.out"; fail "make-channel (second)"; }
(cd "$S/again/linux-64" && sha256sum -- *.conda) > "$S/sums2"
diff "$S/sums1" "$S/sums2" || fail "make-channel is not deterministic"
lap; echo "4. deterministic: made twice, the same sha256 for every package (waited $LAP s for the second)"
phase_ms=$start_ms; lap; echo "channel_debian: $LAP s in all"
