#!/bin/bash
# The pip list of an environment file, bad input through `envpack lock` and `envpack build`:
# a requirement that does not parse (exit 2, env.yml:LINE:COLUMN with a caret, no lock written), an
# sdist-only project (exit 3, the sdist named), a pip requirement the conda solve contradicts (exit
# 3, the conda package named), a malformed wheel found at build time (exit 2, the wheel and the
# defect named, no image tagged, no temporary file kept, the wheel not remembered as checked), and a wheel whose bytes changed after
# locking (exit 1, sha256 mismatch). The conda side is a small channel the test makes (a stub
# python 3.12 and numpy 1.26.4: the pip side only needs their versions).
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
"$PY" "$HERE/pip_make_wheels.py" good "$S/good"
"$PY" "$HERE/pip_make_wheels.py" bad "$S/bad"
cat > "$S/channel.json" <<'JSON'
[{"name": "python", "version": "3.12.1", "build": "0", "formats": ["conda"],
  "files": {"bin/python3.12": {"mode": 493, "text": "#!/bin/sh\n"}}, "symlinks": {"bin/python": "python3.12"}},
 {"name": "numpy", "version": "1.26.4", "build": "0", "formats": ["conda"], "depends": ["python >=3.12"],
  "files": {"lib/python3.12/site-packages/numpy/__init__.py": {"text": "\n"}}}]
JSON
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$S/channel.json" "$S/channel" > /dev/null
"$ENVPACK" index "$S/channel" > /dev/null

# env PIP_ITEMS...: writes $S/env.yml with python 3.12 and numpy, then the pip list.
env_with() {
  { printf 'name: t\nchannels: [./channel]\ndependencies:\n  - python=3.12\n  - numpy\n  - pip:\n'
    printf '      - --no-index\n      - --find-links ./good\n      - --find-links ./bad\n'
    for item in "$@"; do printf '      - %s\n' "$item"; done; } > "$S/env.yml"
  rm -f "$S/conda-lock.yml"
}

# 1. A requirement that does not parse: located in the environment file, nothing written.
env_with alpha 'gamma >=< 1'
expect_exit 2 "$ENVPACK" lock -f "$S/env.yml"
grep -q "env.yml:11:15: requirement .gamma >=< 1." "$S/err" || { cat "$S/err"; fail "not located at env.yml:11:15"; }
grep -q "gamma >=< 1" "$S/err" && grep -q '\^' "$S/err" || { cat "$S/err"; fail "no line and caret"; }
[ ! -e "$S/conda-lock.yml" ] || fail "a lock was written for a bad pip list"

# 2. An sdist-only project: wheels only, the file named (exit 3: nothing satisfies the list).
env_with srconly
expect_exit 3 "$ENVPACK" lock -f "$S/env.yml"
grep -q "srconly-1.0.tar.gz" "$S/err" || { cat "$S/err"; fail "the sdist is not named"; }

# 3. A pip requirement the conda solve contradicts: the conda package is named.
env_with 'numpy>=2'
expect_exit 3 "$ENVPACK" lock -f "$S/env.yml"
grep -q "numpy" "$S/err" && grep -q "1.26.4" "$S/err" || { cat "$S/err"; fail "the conda numpy is not named"; }

# 4. A malformed wheel locks (its metadata is fine) but does not install: nothing kept.
env_with badhash
expect_exit 0 "$ENVPACK" lock -f "$S/env.yml"
grep -q "name: badhash" "$S/conda-lock.yml" || fail "badhash not locked: $(cat "$S/conda-lock.yml")"
expect_exit 2 "$ENVPACK" build -f "$S/env.yml" -t t/env:bad
grep -q "badhash" "$S/err" && grep -q "does not match its RECORD hash" "$S/err" || { cat "$S/err"; fail "the defect is not named"; }
"$ENVPACK" images | grep -q "t/env" && fail "an image was tagged"
# The pip layers are written straight from the wheels: nothing half-written may stay behind.
left=$(find "$ENVPACK_HOME" -name '.tmp-*' -o -name '.install-*')
[ -z "$left" ] || fail "a temporary file was kept: $left"
[ -z "$(ls -A "$ENVPACK_HOME/pip/record-checked" 2>/dev/null)" ] || fail "the refused wheel is remembered as checked"

# 5. A wheel whose bytes changed after locking: refused by its sha256, nothing installed.
env_with alpha
expect_exit 0 "$ENVPACK" lock -f "$S/env.yml"
expect_exit 0 "$ENVPACK" build -f "$S/env.yml" -t t/env:good --json
"$PY" - "$S/good" <<'PY'
import glob, sys, zipfile
path = glob.glob(sys.argv[1] + "/alpha-1.*-py3-none-any.whl")[0]
with zipfile.ZipFile(path, "a") as z:
    z.writestr("alpha/extra.txt", "changed\n")
PY
rm -rf "$ENVPACK_HOME/layers" "$ENVPACK_HOME/builds"
expect_exit 1 "$ENVPACK" build -f "$S/env.yml" --frozen -t t/env:changed
grep -q "does not match its sha256" "$S/err" || { cat "$S/err"; fail "the changed wheel was not refused by its hash"; }
echo "pip_lock_bad: ok"
