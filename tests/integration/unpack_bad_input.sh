#!/bin/bash
# Unpacking refuses bad layers and leaves nothing that looks unpacked: a blob whose sha256 does not
# match (it still decompresses: only the digest check at the end of the read can catch it), entries
# with `../` or an absolute path (refused, naming the entry, nothing written outside), a hard link
# out of the tree, and a disk that fills up mid-unpack (a small tmpfs as ENVPACK_HOME, root only).
. "$(dirname "$0")/lib.sh"
need python3
LIB="$(dirname "$0")/unpack_lib.py"
STORE="$ENVPACK_HOME/store"

# nothing_unpacked HOME: no complete tree and no temp directory under HOME/unpacked.
nothing_unpacked() {
  local left
  left=$(find "$1/unpacked" -mindepth 1 -maxdepth 1 ! -name '*.lock' 2>/dev/null || true)
  [ -z "$left" ] || fail "left behind in $1/unpacked: $left"
}

mkdir -p "$SCRATCH/src/d"
head -c 100000 /dev/urandom > "$SCRATCH/src/d/f"
"$ENVPACK" import "$SCRATCH/src" -t bad/good:1 --json > "$SCRATCH/import.json"
layer=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["layer"]["digest"])' "$SCRATCH/import.json")
blob="$STORE/blobs/sha256/${layer#sha256:}"

# 1. Same size, still valid gzip (only the gzip header's MTIME byte differs), another sha256.
cp "$blob" "$SCRATCH/fake.gz"
printf '\x7f' | dd of="$SCRATCH/fake.gz" bs=1 seek=4 conv=notrunc status=none
cmp -s "$blob" "$SCRATCH/fake.gz" && fail "the fake blob is not different"
gzip -t "$SCRATCH/fake.gz" || fail "the fake blob should still be valid gzip"
cp "$blob" "$SCRATCH/real.gz"
python3 "$LIB" fake-layer "$STORE" bad/digest:1 "$SCRATCH/real.gz" "$SCRATCH/fake.gz" > /dev/null
expect_exit 1 "$ENVPACK" unpack bad/digest:1
grep -q "is corrupt: its content hashes to" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "no digest mismatch reported"; }
nothing_unpacked "$ENVPACK_HOME"
expect_exit 1 "$ENVPACK" unpack bad/digest:1 -o "$SCRATCH/out-digest"
cp "$SCRATCH/real.gz" "$blob"  # repair: the good image shares the blob

# 2. Hostile entries: each refused with its name; nothing written outside the tree.
mkdir -p "$SCRATCH/victim"
for case in "../../../victim/evil" "/abs-evil" "ok/../../evil-up"; do
  python3 - "$SCRATCH/hostile.tar" "$case" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
i = tarfile.TarInfo("ok/"); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
data = b"pwned\n"
i = tarfile.TarInfo(sys.argv[2]); i.size = len(data); t.addfile(i, io.BytesIO(data))
t.close()
PY
  python3 "$LIB" add-image "$STORE" bad/hostile:1 "$SCRATCH/hostile.tar" > /dev/null
  expect_exit 1 "$ENVPACK" unpack bad/hostile:1
  grep -qF "entry \`$case\`" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "the refusal does not name \`$case\`"; }
  nothing_unpacked "$ENVPACK_HOME"
  [ -z "$(ls -A "$SCRATCH/victim")" ] || fail "something was written outside the tree ($case)"
  [ ! -e /abs-evil ] || fail "/abs-evil was written"
done

# A hard link out of the tree, and a symlink followed by a later entry (stays inside the root).
python3 - "$SCRATCH/hostile.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
i = tarfile.TarInfo("hl"); i.type = tarfile.LNKTYPE; i.linkname = "../../etc/passwd"; t.addfile(i)
t.close()
PY
python3 "$LIB" add-image "$STORE" bad/hardlink:1 "$SCRATCH/hostile.tar" > /dev/null
expect_exit 1 "$ENVPACK" unpack bad/hardlink:1
grep -qF "hard link \`hl\`" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "the hard link refusal does not name it"; }
nothing_unpacked "$ENVPACK_HOME"

tag="envpack-unpack-$$-$RANDOM"
python3 - "$SCRATCH/link1.tar" "$SCRATCH/link2.tar" "$tag" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
i = tarfile.TarInfo("tmp/"); i.type = tarfile.DIRTYPE; i.mode = 0o1777; t.addfile(i)
i = tarfile.TarInfo("esc"); i.type = tarfile.SYMTYPE; i.linkname = "/tmp"; t.addfile(i)
i = tarfile.TarInfo("up"); i.type = tarfile.SYMTYPE; i.linkname = "../../../../../../../.."; t.addfile(i)
t.close()
t = tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT)
for name in ("esc/" + sys.argv[3] + "-abs", "up/tmp/" + sys.argv[3] + "-up"):
    data = b"inside\n"; i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
t.close()
PY
python3 "$LIB" add-image "$STORE" bad/symlink:1 "$SCRATCH/link1.tar" "$SCRATCH/link2.tar" > /dev/null
"$ENVPACK" unpack bad/symlink:1 -o "$SCRATCH/symlink-root" > /dev/null
for f in /tmp/$tag-abs /tmp/$tag-up; do
  [ ! -e "$f" ] || { rm -f "$f"; fail "a symlink let an entry out of the tree ($f)"; }
done
[ -f "$SCRATCH/symlink-root/tmp/$tag-abs" ] || fail "esc/$tag-abs did not land inside the root"
[ -f "$SCRATCH/symlink-root/tmp/$tag-up" ] || fail "up/tmp/$tag-up did not land inside the root"

# 3. A disk that fills up mid-unpack: a 4 MiB tmpfs holds the store (a 20 MB file of zeros
# compresses to ~20 KB) but not the unpacked tree.
if [ "$(id -u)" != 0 ]; then
  echo "SKIP part: the full-disk case needs root to mount a tmpfs"
  echo ok; exit 0
fi
small="$SCRATCH/small"
mkdir -p "$small"
mount -t tmpfs -o size=4m tmpfs "$small" || skip "cannot mount a tmpfs"
cleanup "umount '$small'"
mkdir -p "$SCRATCH/zeros"
head -c 20000000 /dev/zero > "$SCRATCH/zeros/z"
ENVPACK_HOME="$small" "$ENVPACK" import "$SCRATCH/zeros" -t bad/full:1 > /dev/null
used_before=$(df --output=used "$small" | tail -1)
ENVPACK_HOME="$small" expect_exit 1 "$ENVPACK" unpack bad/full:1
grep -q "No space left on device" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "the full disk is not reported"; }
grep -q "hint: free some" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "no hint for the full disk"; }
nothing_unpacked "$small"
used_after=$(df --output=used "$small" | tail -1)
[ "$used_after" -le "$((used_before + 64))" ] || fail "the failed unpack left ${used_after}K used (was ${used_before}K)"
echo ok
