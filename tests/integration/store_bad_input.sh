#!/bin/bash
# Bad input gets a clear error and a documented exit code, and the store stays valid.
. "$(dirname "$0")/lib.sh"

src="$SCRATCH/src"; mkdir -p "$src/dev"
echo x > "$src/file"

# Missing source: exit 2, names the path.
expect_exit 2 "$ENVPACK" import "$SCRATCH/nope" -t bad/x:1
grep -q "$SCRATCH/nope" "$SCRATCH/err" || fail "missing path not named"
# Missing -t and a malformed reference: exit 2.
expect_exit 2 "$ENVPACK" import "$src"
expect_exit 2 "$ENVPACK" import "$src" -t 'Bad Name!'
grep -q "invalid image reference" "$SCRATCH/err" || fail "bad reference message"
expect_exit 2 "$ENVPACK" import "$src" -t ok/x:1 --compression lz4
expect_exit 2 "$ENVPACK" frobnicate
expect_exit 2 "$ENVPACK" images --bogus

# Unreadable files and directories (checked as an unprivileged user: root reads everything). The
# binary and the trees are copied to a world-readable directory first: the checkout may sit under
# a 0700 directory that nobody cannot enter.
if nobody_setup; then
  locked="$NOBODY_DIR/locked"; mkdir -p "$locked/secret"
  echo x > "$locked/ok"; echo s > "$locked/secret/key"; chmod 000 "$locked/secret"
  expect_exit 1 as_nobody "$NOBODY_ENVPACK" import "$locked" -t bad/locked:1
  grep -q "$locked/secret" "$SCRATCH/err" || fail "unreadable directory not named"
  chmod 755 "$locked/secret"; chmod 000 "$locked/secret/key"
  expect_exit 1 as_nobody "$NOBODY_ENVPACK" import "$locked" -t bad/locked:1
  grep -q "$locked/secret/key" "$SCRATCH/err" || fail "unreadable file not named"
  chmod 644 "$locked/secret/key"
  as_nobody "$NOBODY_ENVPACK" images > "$SCRATCH/images" || fail "images as nobody"
  if grep -q bad/locked "$SCRATCH/images"; then fail "a failed import was tagged"; fi
else
  skip_part "unreadable files: $NOBODY_WHY"
fi

# Device nodes, fifos and sockets are skipped with a warning (not stored).
mknod "$src/dev/null" c 1 3
mkfifo "$src/fifo"
/usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$src/sock"
printf 'x' > "$src/$(printf 'not\xffutf8')"
expect_exit 0 "$ENVPACK" import "$src" -t bad/special:1
grep -q "skipping device node" "$SCRATCH/err" || fail "no warning for the device node"
grep -q "skipping fifo" "$SCRATCH/err" || fail "no warning for the fifo"
grep -q "skipping socket" "$SCRATCH/err" || fail "no warning for the socket"
mkdir "$SCRATCH/u"; umoci unpack --image "$ENVPACK_HOME/store:bad/special:1" "$SCRATCH/u/b" >/dev/null 2>&1 || fail "umoci"
[ -e "$SCRATCH/u/b/rootfs/dev/null" ] && fail "device node stored"
[ -f "$SCRATCH/u/b/rootfs/$(printf 'not\xffutf8')" ] || fail "non-UTF-8 name lost"

# A tar that escapes its root is refused and nothing is tagged.
/usr/bin/python3 - "$SCRATCH/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"pwned"
    info = tarfile.TarInfo("../../etc/evil"); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
PY
expect_exit 2 "$ENVPACK" import "$SCRATCH/evil.tar" -t bad/evil:1
grep -q "etc/evil" "$SCRATCH/err" || fail "traversal entry not named"
"$ENVPACK" images | grep -q bad/evil && fail "a refused import was tagged"
# Not an archive at all.
echo "just text" > "$SCRATCH/notar"
expect_exit 1 "$ENVPACK" import "$SCRATCH/notar" -t bad/notar:1

# A corrupt blob is reported (naming it), never served.
"$ENVPACK" import "$src" -t bad/corrupt:1 >/dev/null 2>&1
layer=$("$ENVPACK" inspect bad/corrupt:1 --json | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["layers"][0]["digest"].split(":")[1])')
printf 'garbage' >> "$ENVPACK_HOME/store/blobs/sha256/$layer"
expect_exit 1 "$ENVPACK" export bad/corrupt:1 -o "$SCRATCH/out.tar"
grep -q "corrupt" "$SCRATCH/err" && grep -q "$layer" "$SCRATCH/err" || fail "corruption not reported"
[ -e "$SCRATCH/out.tar" ] && fail "export left a half-written file"
cfg=$("$ENVPACK" inspect bad/corrupt:1 --json | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["config"]["digest"].split(":")[1])')
echo '{}' > "$ENVPACK_HOME/store/blobs/sha256/$cfg"
expect_exit 1 "$ENVPACK" inspect bad/corrupt:1
grep -q corrupt "$SCRATCH/err" || fail "corrupt config served"
expect_exit 2 "$ENVPACK" inspect bad/missing:1
grep -q "not in the local store" "$SCRATCH/err" || fail "missing image message"

# An import killed with SIGKILL while it writes a layer leaves a valid store, and gc removes the
# dead writer's temp file once it is old. The kill is proven to land mid-write: it is sent only
# once a temp blob with bytes in it exists, and that temp file must still be there afterwards.
big="$SCRATCH/big"; mkdir -p "$big"
for i in $(seq 1 30); do head -c 10000000 /dev/urandom > "$big/f$i"; done
blobs="$ENVPACK_HOME/store/blobs/sha256"
"$ENVPACK" import "$big" -t bad/killed:1 >/dev/null 2>&1 &
pid=$!
partial=""
for i in $(seq 1 2000); do
  partial=$(find "$blobs" -maxdepth 1 -name '.tmp-*' -size +0 -print -quit)
  [ -n "$partial" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.005
done
kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
[ -n "$partial" ] || fail "the import wrote no layer before it ended: the kill proved nothing"
[ -e "$partial" ] || fail "the temp blob was renamed before the kill: it did not land mid-write"
"$ENVPACK" images > "$SCRATCH/images"
if grep -q bad/killed "$SCRATCH/images"; then fail "a killed import was tagged"; fi
/usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$ENVPACK_HOME/store/index.json" || fail "index.json damaged"
ls "$blobs" | grep -v '^\.tmp-' | while read -r b; do
  [ "$(sha256sum "$blobs/$b" | cut -d' ' -f1)" = "$b" ] || \
    [ "$b" = "$layer" ] || [ "$b" = "$cfg" ] || fail "blob $b does not match its name after the kill"
done
touch -d '2 hours ago' "$partial"
"$ENVPACK" gc >/dev/null || fail "gc after the kill"
[ ! -e "$partial" ] || fail "gc left the dead writer's temp file"
"$ENVPACK" import "$src" -t bad/after:1 >/dev/null 2>&1 || fail "store unusable after a kill"
echo "bad input ok"
