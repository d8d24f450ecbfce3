#!/bin/bash
# envpack pip install refuses bad input with a clear error and installs nothing halfway:
# malformed wheels (one defect each, from pip_make_wheels.py bad), a conflicting pair (exit 3,
# naming both requirements), an sdist-only project (exit 3, saying wheels only), a project no
# source has (exit 3), a requirement that does not parse (exit 2 with a caret), a missing
# find-links directory.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
"$PY" "$HERE/pip_make_wheels.py" good "$S/good"
"$PY" "$HERE/pip_make_wheels.py" bad "$S/bad"

tree_state() { [ -d "$1" ] && (cd "$1" && find . | sort) || echo "(none)"; }

# Each malformed wheel: exit 2, a message naming the wheel and the defect, an untouched prefix.
declare -A WANT=(
  [hash]="does not match its RECORD hash"
  [unlisted]="is not listed in RECORD"
  [nohash]="no sha256 hash"
  [escape]="outside site-packages"
  [absolute]="outside site-packages"
  [dataescape]="outside \`scripts\`"
  [nometadata]="METADATA\` is missing"
  [nowheel]="WHEEL\` is missing"
  [norecord]="RECORD\` is missing"
  [wheelv2]="Wheel-Version"
  [badkey]="unknown scheme key"
  [badentry]="callable suffix"
  [badrecordcsv]="RECORD row is"
)
# A prefix that already holds a package, which a failed install must leave exactly as it was.
"$ENVPACK" pip install --find-links "$S/good" --prefix "$S/prefix" --python 3.11 beta==1.0 >/dev/null
before=$(tree_state "$S/prefix")
for defect in "${!WANT[@]}"; do
  expect_exit 2 "$ENVPACK" pip install --find-links "$S/bad" --prefix "$S/prefix" --python 3.11 "bad$defect"
  grep -qF -- "${WANT[$defect]}" "$S/err" || { cat "$S/err"; fail "bad$defect: no '${WANT[$defect]}' in the error"; }
  grep -qF "bad$defect-1.0-py3-none-any.whl" "$S/err" || { cat "$S/err"; fail "bad$defect: the wheel is not named"; }
  [ "$(tree_state "$S/prefix")" = "$before" ] || fail "bad$defect: the prefix changed"
done
[ ! -e /tmp/envpack-evil.txt ] || fail "an absolute member was written"
[ ! -e "$S/evil.txt" ] && [ ! -e "$S/../evil.txt" ] || fail "a climbing member was written"
ls -d "$S"/.envpack-wheel-* 2>/dev/null && fail "a staging directory was left behind"
echo "malformed wheels: refused, nothing installed"

# Conflicting requirements: exit 3 and both sides named.
expect_exit 3 "$ENVPACK" pip install --find-links "$S/good" --prefix "$S/p2" --python 3.11 conf-a conf-b
grep -q "beta" "$S/err" && grep -q "conf-a\|conf_a" "$S/err" && grep -q "conf-b\|conf_b" "$S/err" \
  || { cat "$S/err"; fail "the conflict is not explained"; }
[ ! -e "$S/p2" ] || [ -z "$(ls -A "$S/p2")" ] || fail "a conflicting set installed something"

# An sdist-only project: wheels only, said so.
expect_exit 3 "$ENVPACK" pip install --find-links "$S/good" --prefix "$S/p3" --python 3.11 srconly
grep -qi "source distribution\|sdist" "$S/err" || { cat "$S/err"; fail "the sdist refusal is unclear"; }
grep -q "srconly-1.0.tar.gz" "$S/err" || { cat "$S/err"; fail "the sdist is not named"; }

# Only a musllinux wheel would fit nothing else: gamma's manylinux one is chosen on glibc 2.17, but
# an image with glibc 2.5 has no gamma at all.
expect_exit 3 "$ENVPACK" pip install --find-links "$S/good" --prefix "$S/p4" --python 3.11 --glibc 2.5 gamma
grep -q "musllinux\|manylinux" "$S/err" || { cat "$S/err"; fail "the tag mismatch is not explained"; }

# Nothing provides it.
expect_exit 3 "$ENVPACK" pip install --find-links "$S/good" --prefix "$S/p5" --python 3.11 no-such-thing
grep -q "no-such-thing" "$S/err" || { cat "$S/err"; fail "the missing project is not named"; }

# A requirement that does not parse: exit 2 with a caret.
expect_exit 2 "$ENVPACK" pip install --find-links "$S/good" --prefix "$S/p6" --python 3.11 'alpha >>= 1'
grep -q "\^" "$S/err" || { cat "$S/err"; fail "no caret under the bad requirement"; }

# A find-links directory that does not exist.
expect_exit 2 "$ENVPACK" pip install --find-links "$S/nowhere" --prefix "$S/p7" --python 3.11 alpha
grep -q "nowhere" "$S/err" || { cat "$S/err"; fail "the missing directory is not named"; }
echo "ok"
