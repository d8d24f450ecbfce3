#!/usr/bin/env bash
# envpack lock end to end over the shared conda channels used as local-path channels: conda-lock
# v1 output, --explicit, --json, -o -, default output beside the environment file, relative channel
# paths, .conda preferred over .tar.bz2, content hash recorded and changing with the file.
. "$(dirname "$0")/lib.sh"  # scratch dir, ENVPACK_HOME, fail, cleanup on exit
: "${ENVPACK_SHARED_DIR:?}"
CH="$ENVPACK_SHARED_DIR/data/conda/channels"
T=$SCRATCH

# A project directory with the channel reached by a path relative to the environment file.
mkdir -p "$T/project"
ln -s "$CH/conda-forge-numpy" "$T/channel"
cat > "$T/project/environment.yml" <<YML
name: demo
channels:
  - ../channel
dependencies:
  - python=3.12
  - numpy
  - pip:
      - --no-index
      - --find-links /usr/share/python-wheels
      - setuptools==66.1.1
YML
"$ENVPACK" lock -f "$T/project/environment.yml" > "$T/out.txt" 2> "$T/err.txt"
LOCK="$T/project/conda-lock.yml"
[ -f "$LOCK" ] || fail "no conda-lock.yml beside the environment file"
grep -q "packages for linux-64" "$T/out.txt" || fail "summary missing: $(cat "$T/out.txt")"

# conda-lock v1 structure, checked with an independent YAML reader.
/usr/bin/python3 - "$LOCK" <<'PY'
import sys, yaml
lock = yaml.safe_load(open(sys.argv[1]))
assert lock["version"] == 1, lock["version"]
meta = lock["metadata"]
assert list(meta["content_hash"]) == ["linux-64"] and len(meta["content_hash"]["linux-64"]) == 64
assert meta["channels"] == [{"url": "../channel", "used_env_vars": []}], meta["channels"]
assert meta["platforms"] == ["linux-64"] and meta["sources"] == ["environment.yml"]
pk = {p["name"]: p for p in lock["package"]}
conda = [p for p in lock["package"] if p["manager"] == "conda"]
pip = [p for p in lock["package"] if p["manager"] == "pip"]
# The pip list, locked after the conda solve against its python 3.12 (conda-lock's pip entries).
assert [(p["name"], p["version"]) for p in pip] == [("setuptools", "66.1.1")], pip
assert pip[0]["url"] == "file:///usr/share/python-wheels/setuptools-66.1.1-py3-none-any.whl", pip
assert len(pip[0]["hash"]["sha256"]) == 64 and "md5" not in pip[0]["hash"], pip
assert lock["package"][-1]["manager"] == "pip"   # after every conda package
for p in conda:
    assert p["platform"] == "linux-64" and p["category"] == "main"
    assert p["optional"] is False and isinstance(p["version"], str)
    assert isinstance(p["dependencies"], dict)
    assert p["url"].startswith("file://") and p["url"].endswith((".conda", ".tar.bz2"))
    assert len(p["hash"]["sha256"]) == 64 and len(p["hash"]["md5"]) == 32
assert pk["python"]["version"].startswith("3.12"), pk["python"]["version"]
assert pk["numpy"]["version"] == "1.26.4", pk["numpy"]["version"]
assert pk["numpy"]["url"].endswith(".conda")        # .conda preferred over .tar.bz2
assert pk["numpy"]["dependencies"]["python"] == ">=3.12,<3.13.0a0", pk["numpy"]["dependencies"]
names = [p["name"] for p in lock["package"]]
assert names.index("python") < names.index("numpy")   # install order: dependencies first
PY

# The same request written to stdout is byte-identical (deterministic output).
"$ENVPACK" lock -f "$T/project/environment.yml" -o - > "$T/stdout.yml" 2>/dev/null
cmp "$LOCK" "$T/stdout.yml" || fail "lock differs between runs"

# --explicit: @EXPLICIT and URL#sha256 for every package.
"$ENVPACK" lock -f "$T/project/environment.yml" --explicit 2>/dev/null >/dev/null
EXPL="$T/project/conda-linux-64.lock"
grep -qx '@EXPLICIT' "$EXPL" || fail "no @EXPLICIT line"
n_lock=$(grep -c '^  manager: conda' "$LOCK")
n_expl=$(grep -cE '^file://.*\.(conda|tar\.bz2)#[0-9a-f]{64}$' "$EXPL")
[ "$n_lock" = "$n_expl" ] || fail "explicit has $n_expl packages, lock has $n_lock"
grep -qxE '# pip setuptools @ file:///usr/share/python-wheels/setuptools-66.1.1-py3-none-any.whl#sha256=[0-9a-f]{64}' "$EXPL" \
  || fail "the pip package is not a conda-lock '# pip' line: $(cat "$EXPL")"

# --json: machine output.
"$ENVPACK" lock -f "$T/project/environment.yml" -o "$T/j.yml" --json 2>/dev/null > "$T/j.json"
/usr/bin/python3 -c "
import json,sys; j=json.load(open('$T/j.json'))
assert j['lock_file'] == '$T/j.yml' and j['format'] == 'conda-lock-v1'
assert any(p['name']=='numpy' and p['build'].startswith('py312') for p in j['packages'])
"

# The content hash follows the request, not the formatting.
h1=$(grep -A1 content_hash "$LOCK" | tail -1)
printf '# reformatted\nname: other\nchannels: [../channel]\ndependencies: [python=3.12, numpy, {pip: [--no-index, --find-links /usr/share/python-wheels, setuptools==66.1.1]}]\n' \
  > "$T/project/environment.yml"
"$ENVPACK" lock -f "$T/project/environment.yml" 2>/dev/null >/dev/null
h2=$(grep -A1 content_hash "$LOCK" | tail -1)
[ "$h1" = "$h2" ] || fail "content hash changed with formatting: $h1 vs $h2"
printf 'channels: [../channel]\ndependencies: [python=3.12, numpy=1.26]\n' > "$T/project/environment.yml"
"$ENVPACK" lock -f "$T/project/environment.yml" 2>/dev/null >/dev/null
h3=$(grep -A1 content_hash "$LOCK" | tail -1)
[ "$h1" != "$h3" ] || fail "content hash did not change with the dependencies"

# conda-test-index: legacy features and a rich python/numpy history.
cat > "$T/idx.yml" <<YML
channels: [$CH/conda-test-index]
dependencies: [python=3.3, numpy]
YML
"$ENVPACK" lock -f "$T/idx.yml" -o - 2>/dev/null > "$T/idx.lock"
grep -q "python-3.3.2-0.tar.bz2" "$T/idx.lock" || fail "python 3.3.2 not chosen"
grep -q "numpy-1.7.1-py33_0.tar.bz2" "$T/idx.lock" || fail "numpy 1.7.1 py33 not chosen"
echo "lock_local: ok"
