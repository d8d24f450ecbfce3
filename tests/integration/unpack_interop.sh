#!/bin/bash
# A root filesystem with non-root owners, setuid/setgid/sticky modes, security.capability and
# user.* xattrs, hard links and symlinks out of the tree, imported by envpack (owners kept), then a
# second layer with whiteouts, an opaque directory, a file replacing a directory and a device node;
# unpacked by `envpack unpack` and by `umoci unpack`, and the two trees compared entry by entry
# (names, types, owners, modes, xattrs, link targets, bytes, hard-link groups). Needs root (chown,
# setcap, umoci's owner handling).
. "$(dirname "$0")/lib.sh"
need umoci setcap setfattr python3
[ "$(id -u)" = 0 ] || skip "needs root to make a tree with other owners"
LIB="$(dirname "$0")/unpack_lib.py"

src="$SCRATCH/src"
mkdir -p "$src"/{etc,usr/bin,srv/shared,opt/app/sub,var/cache/x,tmp,ro}
printf 'root:x:0:0::/root:/bin/sh\nalice:x:1234:1234::/home/alice:/bin/sh\n' > "$src/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nshadow:x:42:\nstaff:x:50:\n' > "$src/etc/group"
echo 'root:*:19000::::::' > "$src/etc/shadow"; chown 0:42 "$src/etc/shadow"; chmod 640 "$src/etc/shadow"
echo motd-1 > "$src/etc/motd"
printf '#!/bin/sh\n' > "$src/usr/bin/su"; chmod 4755 "$src/usr/bin/su"
printf '#!/bin/sh\n' > "$src/usr/bin/wall"; chown 0:5 "$src/usr/bin/wall"; chmod 2755 "$src/usr/bin/wall"
head -c 200000 /dev/urandom > "$src/usr/bin/ping"; chmod 755 "$src/usr/bin/ping"
setcap cap_net_raw+ep "$src/usr/bin/ping" || skip "setcap does not work on this filesystem"
setfattr -n user.comment -v "hello world" "$src/usr/bin/ping" || skip "no user xattrs on this filesystem"
setfattr -n user.dir -v "on a dir" "$src/srv/shared"
chown 1234:50 "$src/srv/shared"; chmod 2775 "$src/srv/shared"
echo data > "$src/srv/shared/data"; chown 1234:50 "$src/srv/shared/data"; chmod 660 "$src/srv/shared/data"
echo keep > "$src/srv/shared/keep"; chown 4321:777 "$src/srv/shared/keep"  # ids nobody names
chmod 1777 "$src/tmp"
echo inside-ro > "$src/ro/file"; chmod 555 "$src/ro"
ln "$src/usr/bin/su" "$src/usr/bin/su-hard"
ln -s /etc/shadow "$src/escape-abs"
ln -s ../../../../../.. "$src/escape-up"
ln -s ../usr/bin/ping "$src/etc/ping-link"
echo old1 > "$src/opt/app/old1"; echo old2 > "$src/opt/app/sub/old2"
echo cached > "$src/var/cache/x/f"
chown -h 1234:50 "$src/escape-abs"

"$ENVPACK" import "$src" -t unpack/base:1 --json > "$SCRATCH/import.json"
layer1=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["layer"]["digest"])' "$SCRATCH/import.json")
# Reproducible: the same tree gives the same layer.
"$ENVPACK" import "$src" -t unpack/again:1 --json > "$SCRATCH/import2.json"
grep -q "\"$layer1\"" "$SCRATCH/import2.json" || fail "importing the same tree twice gave another layer"

# The second layer, as a tar made here (PAX, as GNU tar and docker write them).
python3 - "$SCRATCH/layer2.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
def add(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, xattrs=None, link="", dev=None):
    i = tarfile.TarInfo(name); i.type = kind; i.mode = mode; i.uid = uid; i.gid = gid; i.mtime = 1700000000
    i.linkname = link
    if xattrs:
        i.pax_headers = {"SCHILY.xattr." + k: v for k, v in xattrs.items()}
    if dev:
        i.devmajor, i.devminor = dev
    i.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
add("dev/", tarfile.DIRTYPE, mode=0o755)
add("dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
add("etc/", tarfile.DIRTYPE, mode=0o755)
add("etc/motd", data=b"motd-2\n", mode=0o600, uid=1234, gid=50)
add("opt/app/", tarfile.DIRTYPE, mode=0o750, uid=1234, gid=50)
add("opt/app/.wh..wh..opq")
add("opt/app/new", data=b"new\n", mode=0o640, uid=1234, gid=50, xattrs={"user.layer": "two"})
add("srv/shared/", tarfile.DIRTYPE, mode=0o2775, uid=1234, gid=50, xattrs={"user.dir": "on a dir"})
add("srv/shared/.wh.data")
add("srv/shared/sub/", tarfile.DIRTYPE, mode=0o2770, uid=1234, gid=50)
add("srv/shared/sub/f", data=b"in a setgid dir\n", mode=0o2750, uid=1234, gid=50)
add("var/", tarfile.DIRTYPE, mode=0o755)
add("var/cache", data=b"a file where a directory was\n", mode=0o644)
add("usr/bin/su-hard2", tarfile.LNKTYPE, link="usr/bin/su")
t.close()
PY
gzip -n -k "$SCRATCH/layer2.tar"
blob1="$ENVPACK_HOME/store/blobs/sha256/${layer1#sha256:}"
python3 "$LIB" add-image "$ENVPACK_HOME/store" unpack/two:1 "$blob1" "$SCRATCH/layer2.tar.gz" > /dev/null

"$ENVPACK" unpack unpack/two:1 --json > "$SCRATCH/unpack.json" 2> "$SCRATCH/unpack.err"
rootfs=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["rootfs"])' "$SCRATCH/unpack.json")
[ -d "$rootfs" ] || fail "no rootfs at $rootfs"
grep -q "dev/null" "$SCRATCH/unpack.err" || { cat "$SCRATCH/unpack.err"; fail "no note about the skipped device node"; }
[ ! -e "$rootfs/dev/null" ] || fail "the device node was created"

umoci unpack --image "$ENVPACK_HOME/store:unpack/two:1" "$SCRATCH/bundle" > /dev/null
python3 "$LIB" manifest "$rootfs" > "$SCRATCH/envpack.txt"
python3 "$LIB" manifest "$SCRATCH/bundle/rootfs" --exclude dev/null > "$SCRATCH/umoci.txt"
diff "$SCRATCH/umoci.txt" "$SCRATCH/envpack.txt" || fail "envpack's unpacked tree differs from umoci's"

# The comparison holds only if the tree has what it should: check the interesting parts directly.
want() { grep -qF -- "$1" "$SCRATCH/envpack.txt" || fail "missing in the unpacked tree: $1"; }
want "F 'etc/shadow' 0:42 640 []"
want "F 'usr/bin/su' 0:0 4755 []"
want "F 'usr/bin/wall' 0:5 2755 []"
want "F 'usr/bin/ping' 0:0 755 [security.capability=0100000200200000000000000000000000000000 user.comment=68656c6c6f20776f726c64]"
want "D 'srv/shared' 1234:50 2775 [user.dir=6f6e206120646972]"
want "D 'srv/shared/sub' 1234:50 2770 []"
want "F 'srv/shared/sub/f' 1234:50 2750 []"
want "F 'srv/shared/keep' 4321:777 644 []"
want "D 'tmp' 0:0 1777 []"
want "D 'ro' 0:0 555 []"
want "L 'escape-abs' 1234:50 777 [] -> '/etc/shadow'"
want "L 'escape-up' 0:0 777 [] -> '../../../../../..'"
want "D 'opt/app' 1234:50 750 []"
want "F 'opt/app/new' 1234:50 640 [user.layer=74776f]"
want "F 'var/cache' 0:0 644 []"
want "H 'usr/bin/su' = 'usr/bin/su-hard' = 'usr/bin/su-hard2'"
! grep -q "'srv/shared/data'" "$SCRATCH/envpack.txt" || fail "the whiteout did not remove srv/shared/data"
! grep -q "'opt/app/old1'\|'opt/app/sub" "$SCRATCH/envpack.txt" || fail "the opaque directory kept lower content"
! grep -q "'var/cache/x" "$SCRATCH/envpack.txt" || fail "the directory replaced by a file survived"
grep -q "motd-2" "$rootfs/etc/motd" || fail "etc/motd was not replaced"
[ "$(stat -c %Y "$rootfs/opt/app")" = 1700000000 ] || fail "directory mtime not applied after its contents"

# Names from the tree's own /etc/passwd and /etc/group went into the layer.
python3 - "$blob1" <<'PY' || fail "the imported layer lacks owner names"
import sys, tarfile
t = tarfile.open(sys.argv[1])
m = {i.name: i for i in t.getmembers()}
s = m["srv/shared/data"]
assert (s.uname, s.gname, s.uid, s.gid) == ("alice", "staff", 1234, 50), (s.uname, s.gname)
k = m["srv/shared/keep"]
assert (k.uname, k.gname) == ("", ""), (k.uname, k.gname)
assert "SCHILY.xattr.security.capability" in m["usr/bin/ping"].pax_headers
PY

# A second `unpack` reuses the tree.
"$ENVPACK" unpack unpack/two:1 --json > "$SCRATCH/again.json"
grep -q '"reused": true' "$SCRATCH/again.json" || fail "the second unpack did not reuse the tree"
echo ok
