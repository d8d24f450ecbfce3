#!/bin/bash
# Black-box tests of `envpack snapshot`: outputs, digest stability, deterministic tar layers,
# symlinks, special files, non-UTF-8 names, limits, and the bad inputs of issue 3.
source "$(dirname "$0")/lib.sh"
scratch=$SCRATCH
cleanup "chmod -R u+rwx '$scratch' 2>/dev/null"
cd "$scratch"
# expect_exit CODE CMD...: runs CMD, stdout to out.txt, stderr to err.txt, checks the exit code.
expect_exit() {
    local want=$1; shift
    local rc=0
    "$@" >out.txt 2>err.txt || rc=$?
    if [ "$rc" != "$want" ]; then
        cat err.txt >&2
        fail "$* exited $rc, expected $want"
    fi
}
git_list() {  # what git would snapshot, sorted bytewise
    rm -rf "$scratch/oracle.git"
    git init -q --bare "$scratch/oracle.git"
    git --git-dir="$scratch/oracle.git" --work-tree="$1" -c core.bare=false -c core.excludesFile=/dev/null \
        ls-files -z --others --exclude-standard | tr '\0' '\n' | LC_ALL=C sort
}

echo "== bad DIR"
expect_exit 2 "$ENVPACK" snapshot "$scratch/missing"
grep -q "does not exist" err.txt || fail "missing DIR message: $(cat err.txt)"
touch plainfile
expect_exit 2 "$ENVPACK" snapshot plainfile
grep -q "is not a directory" err.txt || fail "file DIR message"
expect_exit 2 "$ENVPACK" snapshot
expect_exit 2 "$ENVPACK" snapshot . --max-bytes lots

echo "== listing, .amlignore over .gitignore, .git left out, warnings on stderr"
mkdir -p t1/src/pkg t1/data t1/.git/objects t1/logs
echo 'print(1)' > t1/src/train.py
echo 'x' > t1/src/pkg/__init__.py
head -c 1000 /dev/zero > t1/data/big.bin
echo 'ref' > t1/.git/HEAD
echo 'log' > t1/logs/run.log
printf 'data/\n*.log\n' > t1/.amlignore
printf '*\n' > t1/.gitignore          # ignored: the .amlignore wins
mkfifo t1/src/pipe
expect_exit 0 "$ENVPACK" snapshot t1 --list
printf '.amlignore\n.gitignore\nsrc/pkg/__init__.py\nsrc/train.py\n' > want.txt
cmp out.txt want.txt || { diff out.txt want.txt; fail "listing of t1"; }
grep -q "warning: skipping fifo" err.txt || fail "no warning for the fifo"
rm t1/src/pipe

echo "== default output and --json"
expect_exit 0 "$ENVPACK" snapshot t1
grep -q '^digest: sha256:[0-9a-f]\{64\}$' out.txt || fail "digest line: $(cat out.txt)"
grep -q '^files: 4$' out.txt || fail "file count"
want_bytes=$(( $(stat -c %s t1/.amlignore) + 2 + 9 + 2 ))
grep -q "^bytes: $want_bytes\$" out.txt || fail "bytes (want $want_bytes): $(cat out.txt)"
expect_exit 0 "$ENVPACK" snapshot t1 --json
/usr/bin/python3 - out.txt <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["files"] == 4 and j["digest"].startswith("sha256:"), j
assert [e["path"] for e in j["largest"]][:2] == [".amlignore", "src/train.py"], j["largest"]
assert len(j["largest"]) == 4
EOF

echo "== digest: independent of mtimes and creation order; sensitive to content, mode, links"
mkdir -p d1/a d2/a
echo one > d1/a/x; echo two > d1/y; ln -s a/x d1/l
echo two > d2/y; ln -s a/x d2/l; echo one > d2/a/x
touch -d '2001-01-01' d2/y d2/a/x
digest() { "$ENVPACK" snapshot "$1" | sed -n 's/^digest: //p'; }
[ "$(digest d1)" = "$(digest d2)" ] || fail "same trees, different digests"
base=$(digest d1)
chmod +x d2/y
[ "$(digest d2)" != "$base" ] || fail "executable bit not in the digest"
chmod -x d2/y; [ "$(digest d2)" = "$base" ] || fail "chmod back"
ln -sfn a/other d2/l
[ "$(digest d2)" != "$base" ] || fail "link target not in the digest"
ln -sfn a/x d2/l; echo three > d2/y
[ "$(digest d2)" != "$base" ] || fail "content not in the digest"
echo two > d2/y; mkdir d2/empty
[ "$(digest d2)" != "$base" ] || fail "an empty directory is not in the digest"
rmdir d2/empty
[ "$(ENVPACK_THREADS=1 "$ENVPACK" snapshot d2 | sed -n 's/^digest: //p')" = "$base" ] || fail "threads change the digest"

echo "== -o: deterministic tar layer with links, modes and non-UTF-8 names"
mkdir -p t2/bin t2/loops
printf '#!/bin/sh\n' > t2/bin/run; chmod 755 t2/bin/run
echo data > t2/file
touch "t2/$(printf 'bad\xff\xfename')"
ln -s loop t2/loops/loop; ln -s b t2/loops/a; ln -s a t2/loops/b; ln -s . t2/loops/self
ln -s /etc/passwd t2/outside; ln -s ../../../../../../etc t2/up
expect_exit 0 "$ENVPACK" snapshot t2 --list
grep -q "$(printf 'bad\xff\xfename')" out.txt || fail "non-UTF-8 name not listed as bytes"
[ "$(wc -l < out.txt)" = 9 ] || fail "t2 listing: $(cat out.txt)"
expect_exit 0 "$ENVPACK" snapshot t2 -o l1.tar
touch t2/file; sleep 0.01
expect_exit 0 "$ENVPACK" snapshot t2 -o l2.tar
cmp l1.tar l2.tar || fail "layer tar not deterministic"
tar -tvf l1.tar > tv.txt
grep -q '^lrwxrwxrwx .* outside -> /etc/passwd$' tv.txt || fail "outside link: $(cat tv.txt)"
grep -q '^lrwxrwxrwx .* loops/loop -> loop$' tv.txt || fail "loop link"
grep -q '^-rwxr-xr-x .* bin/run$' tv.txt || fail "executable mode"
grep -q ' 0/0 ' tv.txt || fail "uid/gid"
mkdir x && tar -xf l1.tar -C x && cmp x/file t2/file && cmp x/bin/run t2/bin/run || fail "tar contents"
[ "$(readlink x/up)" = "../../../../../../etc" ] || fail "link target"
expect_exit 0 "$ENVPACK" snapshot t2 -o l1.tar.gz --json
gzip -t l1.tar.gz || fail "gzip layer"
# (never `tar | grep -q` under pipefail: grep leaves at the first match and tar, still writing,
# dies of SIGPIPE)
tar -tzf l1.tar.gz > tz.txt || fail "gzip layer unreadable by tar"
grep -q '^bin/run$' tz.txt || fail "gzip layer contents"

echo "== limits"
mkdir -p t3/data/raw t3/src
head -c 3000000 /dev/zero > t3/data/raw/huge.bin
head -c 1000000 /dev/zero > t3/data/medium.bin
echo x > t3/src/a.py
expect_exit 2 "$ENVPACK" snapshot t3 --max-bytes 2000000
grep -q "size limit of 1.9 MiB (2000000 bytes)" err.txt || fail "limit not named: $(cat err.txt)"
grep -q "4000002 bytes" err.txt || fail "total not named"
grep -q "data/raw/huge.bin" err.txt || fail "largest file not named"
grep -q "largest directories:" err.txt && grep -q "  data/  " err.txt || fail "largest directory not named"
[ ! -s out.txt ] || fail "stdout not empty on error"
expect_exit 2 "$ENVPACK" snapshot t3 --max-files 2
grep -q "file limit of 2 files" err.txt || fail "file limit: $(cat err.txt)"
expect_exit 0 "$ENVPACK" snapshot t3 --max-files 0 --max-bytes 0
expect_exit 0 "$ENVPACK" snapshot t3 --list --max-bytes 1   # --list shows what to exclude
mkdir t4 && (cd t4 && seq 1 2001 | xargs touch)
expect_exit 2 "$ENVPACK" snapshot t4
grep -q "file limit of 2000 files" err.txt || fail "default file limit"
rm 't4/2001'
expect_exit 0 "$ENVPACK" snapshot t4
head -c $((300 * 1024 * 1024 + 1)) /dev/zero > t3/data/over.bin
expect_exit 2 "$ENVPACK" snapshot t3
grep -q "size limit of 300.0 MiB (314572800 bytes)" err.txt || fail "default size limit"
rm t3/data/over.bin

echo "== invalid patterns are non-matching, as in git"
mkdir -p t5/sub
touch t5/abc t5/foo t5/sub/x 't5/[abc' t5/keep
printf '[abc\n[[:nope:]]\nfoo[\n\\\n[!\n**/[[:alpha:\nkeep\n' > t5/.gitignore
expect_exit 0 "$ENVPACK" snapshot t5 --list
git_list "$scratch/t5" > want.txt
cmp out.txt want.txt || { diff out.txt want.txt; fail "invalid patterns differ from git"; }

echo "== a 100 MB single-line ignore file"
mkdir -p t6/a
touch t6/a/x t6/y
head -c 100000000 /dev/zero | tr '\0' '*' > t6/.gitignore
start=$(date +%s)
expect_exit 0 "$ENVPACK" snapshot t6 --list
[ ! -s out.txt ] || fail "a line of 100 MB of '*' excludes everything: $(cat out.txt)"
head -c 100000000 /dev/zero | tr '\0' 'a' > t6/.gitignore
expect_exit 0 "$ENVPACK" snapshot t6 --list
printf '.gitignore\na/x\ny\n' > want.txt
cmp out.txt want.txt || fail "a 100 MB literal line"
[ $(( $(date +%s) - start )) -lt 60 ] || fail "100 MB ignore files took over a minute"
head -c $((100 * 1024 * 1024 + 1)) /dev/zero > t6/.gitignore
expect_exit 2 "$ENVPACK" snapshot t6 --list
grep -q "more than the limit" err.txt || fail "oversized ignore file: $(cat err.txt)"
rm -rf t6

echo "== symlinked ignore files are refused"
mkdir t7 && echo '*' > t7/rules && ln -s rules t7/.gitignore
expect_exit 2 "$ENVPACK" snapshot t7 --list
grep -q "is a symbolic link" err.txt || fail "symlinked ignore file"

echo "== a file that changes while it is read"
mkdir t8
head -c 20000000 /dev/zero > t8/growing.log
/usr/bin/python3 -c '
import sys, time
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(b"x" * 4096)
        time.sleep(0.0005)
' t8/growing.log &
writer_pid=$!
track_pid "$writer_pid"
sleep 0.2
expect_exit 1 "$ENVPACK" snapshot t8 -o torn.tar
grep -q "growing.log. changed while it was being read" err.txt || fail "torn file: $(cat err.txt)"
[ ! -e torn.tar ] || fail "a torn layer was left behind"
stop_pid "$writer_pid"

echo "== unreadable directories and files"
# As root the permission checks need an unprivileged user; that user must reach both the binary
# and the tree, so both live in nobody_setup's world-readable directory (see lib.sh).
t9=$scratch/t9
run_as=("$ENVPACK")
if [ "$(id -u)" = 0 ]; then
    if nobody_setup; then
        t9=$NOBODY_DIR/t9
        run_as=(as_nobody "$NOBODY_ENVPACK")
    else
        run_as=()
        skip_part "permission checks: $NOBODY_WHY"
    fi
fi
if [ ${#run_as[@]} -gt 0 ]; then
    mkdir -p "$t9/secret" "$t9/ok" "$t9/skipped"
    touch "$t9/secret/key" "$t9/ok/a" "$t9/skipped/b" "$t9/locked.txt"
    echo 'skipped/' > "$t9/.gitignore"
    chmod 000 "$t9/secret" "$t9/skipped"
    expect_exit 1 "${run_as[@]}" snapshot "$t9" --list
    grep -q "t9/secret" err.txt && grep -q "Permission denied" err.txt || fail "unreadable dir: $(cat err.txt)"
    echo 'secret/' >> "$t9/.gitignore"
    expect_exit 0 "${run_as[@]}" snapshot "$t9" --list    # excluded: never opened
    chmod 000 "$t9/locked.txt"
    expect_exit 1 "${run_as[@]}" snapshot "$t9"
    grep -q "t9/locked.txt" err.txt || fail "unreadable file: $(cat err.txt)"
fi
echo "ok"
