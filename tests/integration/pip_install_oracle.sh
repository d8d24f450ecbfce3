#!/bin/bash
# envpack pip install against Debian's pip on the same wheels (the ones pip_make_wheels.py writes:
# pure, manylinux next to a musllinux one, .data scripts/headers/data/purelib/platlib, extras and
# markers, console and GUI scripts; and the real pip and setuptools wheels of python-pip-whl):
# the same packages chosen, the same files (paths mapped from Debian's local/ layout), the same
# bytes (scripts included: both name /usr/bin/python3), RECORD rows equivalent, executable bits
# equal. Then the installed console scripts run.
source "$(dirname "$0")/lib.sh"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
/usr/bin/python3 -m pip --version >/dev/null 2>&1 || skip "Debian's pip (python3-pip) is not installed"
PYVER=$(/usr/bin/python3 -c 'import sys;print("%d.%d"%sys.version_info[:2])')
HERE=$(cd "$(dirname "$0")" && pwd)

"$PY" "$HERE/pip_make_wheels.py" good "$S/wheels"
real=0
if ls /usr/share/python-wheels/*.whl >/dev/null 2>&1; then
  cp /usr/share/python-wheels/pip-*.whl /usr/share/python-wheels/setuptools-*.whl "$S/wheels/" 2>/dev/null || true
  real=1
else
  skip_part "python-pip-whl is not installed: the real pip/setuptools wheels are left out"
fi
REQS=(alpha delta gamma 'epsilon[fast]' Mixed.Case_Name)
[ "$real" = 1 ] && REQS+=(pip setuptools)

# Debian's pip, isolated from this machine's PIP_* settings.
run_pip() {
  env $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/-u \1/p') PIP_DISABLE_PIP_VERSION_CHECK=1 \
    /usr/bin/python3 -m pip install --isolated --no-compile --ignore-installed --no-index \
    --no-warn-script-location --find-links "$S/wheels" --prefix "$S/pip" "$@"
}
run_pip "${REQS[@]}" >"$S/pip.out" 2>&1 || { cat "$S/pip.out"; fail "Debian's pip failed"; }

"$ENVPACK" pip install --find-links "$S/wheels" --prefix "$S/ep" --python "$PYVER" \
  --interpreter /usr/bin/python3 --json "${REQS[@]}" >"$S/ep.json" \
  || fail "envpack pip install failed"

# The same packages, at the same versions.
pip_set=$(sed -n 's/^Successfully installed //p' "$S/pip.out" | "$PY" -c '
import re,sys
print(" ".join(sorted(re.sub(r"[-_.]+", "-", w.rsplit("-", 1)[0]).lower() + "-" + w.rsplit("-", 1)[1] for w in sys.stdin.read().split())))')
ep_set=$("$PY" -c '
import json,re,sys
d=json.load(open(sys.argv[1]))
print(" ".join(sorted(p["name"] + "-" + p["version"] for p in d["packages"])))' "$S/ep.json")
[ "$(echo $pip_set)" = "$(echo $ep_set)" ] || fail "packages differ: pip [$pip_set] envpack [$ep_set]"
echo "same packages: $ep_set"

"$PY" "$HERE/pip_compare.py" "$S/pip" "$S/ep" "$PYVER" || fail "installed trees differ from pip's"

# The scripts work: an entry point, a .data script with a rewritten #!python, pip itself.
SP="$S/ep/lib/python$PYVER/site-packages"
out=$(PYTHONPATH="$SP" "$S/ep/bin/alpha") || fail "bin/alpha failed"
[ "$out" = "alpha says hi" ] || fail "bin/alpha printed '$out'"
out=$(PYTHONPATH="$SP" "$S/ep/bin/delta-tool") || fail "bin/delta-tool failed"
[ "$out" = "delta tool 42" ] || fail "bin/delta-tool printed '$out'"
if [ "$real" = 1 ]; then
  PYTHONPATH="$SP" "$S/ep/bin/pip$PYVER" --version | grep -q "^pip .* from $SP/pip" \
    || fail "the installed pip does not run from the prefix"
  [ -x "$S/ep/bin/pip" ] && [ -x "$S/ep/bin/pip3" ] || fail "pip's versioned scripts are missing"
fi
# A second install into the same prefix replaces files in place and leaves no staging behind.
"$ENVPACK" pip install --find-links "$S/wheels" --prefix "$S/ep" --python "$PYVER" alpha >/dev/null \
  || fail "reinstall failed"
! ls -d "$S"/.envpack-wheel-* 2>/dev/null || fail "a staging directory was left behind"
echo "ok"
