#!/usr/bin/env bash
# The solver seen from the command line, on conda's test index (shared channels used as local
# paths): a real conflict exits 3 and explains the chain and the versions available; virtual
# packages describe the target (no __cuda unless --virtual gives one), and `constrains` on them
# hold; conda's track_features rules pick the mkl builds only when asked.
. "$(dirname "$0")/lib.sh"  # scratch dir, ENVPACK_HOME, fail, cleanup on exit
: "${ENVPACK_SHARED_DIR:?}"
CH="$ENVPACK_SHARED_DIR/data/conda/channels"
T=$SCRATCH

env_file() {  # env_file NAME SPEC...
    local f="$T/$1.yml"; shift
    { echo "channels: [$CH/conda-test-index]"; echo "dependencies:"; for s in "$@"; do echo "  - \"$s\""; done; } > "$f"
    echo "$f"
}

# A conflict two levels deep: exit 3, the chain, the clash, what exists.
f=$(env_file conflict "unsatisfiable-with-py26" "python=2.6")
rc=0; "$ENVPACK" lock -f "$f" -o - > "$T/out" 2> "$T/err" || rc=$?
[ "$rc" = 3 ] || { cat "$T/err" >&2; fail "conflict exited $rc, expected 3"; }
for pattern in "unsatisfiable-with-py26 1.0 requires .scikit-learn ==0.13." \
               "scikit-learn 0.13 requires .python 2.7\*." \
               "only one .python. can be installed" \
               ".python=2.6. wants 2.6.8" \
               "python in .*conda-test-index: 2.6.8, 2.7.3, 2.7.4, 2.7.5, 3.3.0, 3.3.1, 3.3.2" \
               "relax or remove one of: python=2.6, unsatisfiable-with-py26"; do
    grep -qE -- "$pattern" "$T/err" || { cat "$T/err" >&2; fail "explanation lacks /$pattern/"; }
done

# cudatoolkit needs __cuda: none by default (the build host's GPU is not the target's) ...
f=$(env_file cuda "cudatoolkit")
rc=0; "$ENVPACK" lock -f "$f" -o - > "$T/out" 2> "$T/err" || rc=$?
[ "$rc" = 3 ] || { cat "$T/err" >&2; fail "cudatoolkit without __cuda exited $rc, expected 3"; }
grep -q -- "--virtual __cuda=VERSION" "$T/err" || { cat "$T/err" >&2; fail "no --virtual hint"; }
# ... and the newest cudatoolkit the given driver allows with --virtual.
"$ENVPACK" lock -f "$f" --virtual __cuda=12.4 --explicit -o - > "$T/out" 2> "$T/err" ||
    { cat "$T/err" >&2; fail "cudatoolkit with __cuda=12.4 failed"; }
grep -q "cudatoolkit-10.0-0.tar.bz2" "$T/out" || { cat "$T/out" >&2; fail "expected cudatoolkit 10.0"; }
"$ENVPACK" lock -f "$f" --virtual __cuda=9.2 --explicit -o - > "$T/out" 2> "$T/err" ||
    { cat "$T/err" >&2; fail "cudatoolkit with __cuda=9.2 failed"; }
grep -q "cudatoolkit-9.0-0.tar.bz2" "$T/out" || { cat "$T/out" >&2; fail "expected cudatoolkit 9.0"; }

# constrains on a virtual package: cuda-constrain 11.0 constrains __cuda to 11.x.
f=$(env_file constrain "cuda-constrain")
"$ENVPACK" lock -f "$f" --virtual __cuda=10.2 --explicit -o - > "$T/out" 2> "$T/err" ||
    { cat "$T/err" >&2; fail "cuda-constrain with __cuda=10.2 failed"; }
grep -q "cuda-constrain-10.0-0.tar.bz2" "$T/out" || { cat "$T/out" >&2; fail "expected cuda-constrain 10.0"; }

# Features: the plain numpy build unless the mkl feature is asked for (conda test_iopro_*).
f=$(env_file nomkl "iopro 1.4*" "python 2.7*" "numpy 1.7*")
"$ENVPACK" lock -f "$f" --explicit -o - > "$T/out" 2> "$T/err" || { cat "$T/err" >&2; fail "nomkl"; }
grep -q "numpy-1.7.1-py27_0.tar.bz2" "$T/out" || { cat "$T/out" >&2; fail "expected numpy py27_0"; }
f=$(env_file mkl "iopro 1.4*" "python 2.7*" "numpy 1.7*" "*[track_features=mkl]")
"$ENVPACK" lock -f "$f" --explicit -o - > "$T/out" 2> "$T/err" || { cat "$T/err" >&2; fail "mkl"; }
grep -q "numpy-1.7.1-py27_p0.tar.bz2" "$T/out" || { cat "$T/out" >&2; fail "expected numpy py27_p0"; }
grep -q "mkl-rt-11.0-p0.tar.bz2" "$T/out" || { cat "$T/out" >&2; fail "expected mkl-rt"; }
grep -q "mkl@" "$T/out" && fail "the feature record mkl@ must not be in a lock"
echo "ok"
