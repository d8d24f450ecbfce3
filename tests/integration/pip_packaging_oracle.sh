#!/usr/bin/env bash
# envpack's Python packaging semantics (PEP 440 versions and specifiers, PEP 508 requirements and
# markers, PEP 425/600 wheel tags) against Debian's python3-packaging on ~90,000 generated
# questions (one fixed seed; run the script by hand with other seeds for more). The driver is the test-only binary tests/tools/pep_oracle.cpp.
source "$(dirname "$0")/lib.sh"
driver="${ENVPACK_BUILD_DIR:?}/tests/pep_oracle"
[ -x "$driver" ] || fail "the test driver $driver is not built (target pep_oracle)"
/usr/bin/python3 -c 'import packaging' 2>/dev/null ||
  skip "Debian's python3-packaging is not installed (make deps)"
for seed in 440; do
  set +e
  /usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/tools/pip_packaging_oracle.py" "$driver" "$seed" \
    >"$SCRATCH/out" 2>&1
  rc=$?
  set -e
  cat "$SCRATCH/out"
  [ "$rc" = 77 ] && skip "python3-packaging unavailable"
  [ "$rc" = 0 ] || fail "envpack and packaging disagree (seed $seed)"
  grep -q "^all agree$" "$SCRATCH/out" || fail "the oracle did not finish (seed $seed)"
done
