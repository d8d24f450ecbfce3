#!/usr/bin/env bash
# envpack lock on bad input: malformed YAML, unknown keys and malformed specs (exit 2 with
# file:line:column and a caret), truncated and wrongly typed repodata (exit 1 naming the file),
# packages depending on names absent from every channel and unknown root specs (exit 3 with an
# explanation), usage errors. None may crash.
. "$(dirname "$0")/lib.sh"  # scratch dir, ENVPACK_HOME, fail, cleanup on exit
: "${ENVPACK_SHARED_DIR:?}"
CH="$ENVPACK_SHARED_DIR/data/conda/channels"
T=$SCRATCH

# expect CODE PATTERN -- ARGS...: runs envpack lock, checks the exit code and that stderr matches.
expect() {
    local code=$1 pattern=$2; shift 3
    local rc=0
    "$ENVPACK" lock "$@" > "$T/out" 2> "$T/err" || rc=$?
    if [ "$rc" != "$code" ]; then
        cat "$T/err" >&2
        fail "envpack lock $* exited $rc, expected $code"
    fi
    grep -qE -- "$pattern" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks /$pattern/"; }
    if [ "$rc" -ge 128 ]; then fail "crashed with signal"; fi
}

printf 'name: a\ndependencies: [python\n  - x\n' > "$T/malformed.yml"
expect 2 "malformed.yml:[0-9]+:[0-9]+: malformed YAML" -- -f "$T/malformed.yml"

printf 'name: a\nchannels: [conda-forge]\ndependecies:\n  - python\n' > "$T/unknown.yml"
expect 2 "unknown.yml:3:1: unknown key .dependecies." -- -f "$T/unknown.yml"
grep -q '^  \^' "$T/err" || fail "no caret under the unknown key"
grep -q '^  dependecies:' "$T/err" || fail "the offending line is not shown"

printf 'channels: [conda-forge]\ndependencies:\n  - python >=3.9\n  - numpy[version=1\n' > "$T/spec.yml"
expect 2 "spec.yml:4:10: .*numpy\\[version=1" -- -f "$T/spec.yml"

expect 2 "environment file .*/nope.yml" -- -f "$T/nope.yml"
expect 2 "missing -f" --
expect 2 "unknown option" -- -f "$T/spec.yml" --bogus

# Truncated repodata in a local channel: exit 1, the file named, no crash.
mkdir -p "$T/trunc/linux-64" "$T/trunc/noarch"
head -c 10000 "$CH/conda-forge-numpy/linux-64/repodata.json" > "$T/trunc/linux-64/repodata.json"
cp "$CH/conda-forge-numpy/noarch/repodata.json" "$T/trunc/noarch/"
printf "channels: [$T/trunc]\ndependencies: [numpy]\n" > "$T/trunc.yml"
expect 1 "parse repodata .*trunc/linux-64/repodata.json.*truncated" -- -f "$T/trunc.yml"

# Wrong types.
mkdir -p "$T/types/linux-64"
printf '{"packages": {"a-1-0.tar.bz2": {"name": "a", "version": "1", "depends": "b"}}}' \
  > "$T/types/linux-64/repodata.json"
printf "channels: [$T/types]\ndependencies: [a]\n" > "$T/types.yml"
expect 1 "types/linux-64/repodata.json.*line 1 column [0-9]+.*.depends. must be a list" -- -f "$T/types.yml"

# Compressed repodata that is cut short.
mkdir -p "$T/zst/linux-64"
# (No pipe into head: with pipefail, zstd's SIGPIPE would end the script.)
zstd -q -c "$CH/conda-forge-numpy/linux-64/repodata.json" > "$T/full.zst"
head -c 2000 "$T/full.zst" > "$T/zst/linux-64/repodata.json.zst"
printf "channels: [$T/zst]\ndependencies: [numpy]\n" > "$T/zst.yml"
expect 1 "decompress repodata .*repodata.json.zst" -- -f "$T/zst.yml"

# A channel whose packages depend on names no channel has (pytorch without its dependencies).
printf "channels: [$CH/pytorch]\ndependencies: [pytorch=2.1]\n" > "$T/missing-dep.yml"
expect 3 "nothing in .*pytorch provides" -- -f "$T/missing-dep.yml"

# A root spec that matches nothing: exit 3 naming the spec and the channels searched.
printf "channels: [$CH/conda-forge-numpy]\ndependencies: [no-such-package]\n" > "$T/none.yml"
expect 3 "no-such-package.*conda-forge-numpy" -- -f "$T/none.yml"
printf "channels: [$CH/conda-forge-numpy]\ndependencies: [numpy=0.1]\n" > "$T/nover.yml"
expect 3 "numpy=0.1" -- -f "$T/nover.yml"

# A real conflict: exit 3 with both specs named.
printf "channels: [$CH/conda-test-index]\ndependencies: [python=2.7, python=3.3]\n" > "$T/conflict.yml"
expect 3 "python=2.7.*python=3.3|python=3.3.*python=2.7" -- -f "$T/conflict.yml"

# A local channel without the platform's subdir.
printf "channels: [$CH/conda-forge-numpy]\ndependencies: [numpy]\n" > "$T/osx.yml"
expect 1 "no repodata.json.*osx-arm64" -- -f "$T/osx.yml" -p osx-arm64
echo "lock_bad_input: ok"
