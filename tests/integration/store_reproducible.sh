#!/bin/bash
# The same tree gives the same manifest digest in two ENVPACK_HOMEs, at different times, with
# different thread counts, and whether it comes as a directory or as a tar of that directory.
. "$(dirname "$0")/lib.sh"

src="$SCRATCH/src"
mkdir -p "$src/a/b" "$src/c"
for i in $(seq 1 40); do head -c $((i * 50000)) /dev/urandom > "$src/a/b/f$i"; done
echo text > "$src/c/t"; ln -s ../c/t "$src/a/l"; ln "$src/c/t" "$src/c/t2"; chmod 700 "$src/c"

d1=$(ENVPACK_HOME="$SCRATCH/h1" ENVPACK_THREADS=1 "$ENVPACK" import "$src" -t repro/x:1 | awk '{print $2}')
sleep 1.1
touch "$src"/a/b/* "$src/c/t"   # new mtimes must not matter
d2=$(ENVPACK_HOME="$SCRATCH/h2" ENVPACK_THREADS=4 "$ENVPACK" import "$src" -t repro/x:1 | awk '{print $2}')
[ "$d1" = "$d2" ] || fail "directory imports differ: $d1 vs $d2"

# A tar of the same tree (other mtimes, other owner names) gives the same image; numeric owners
# are part of a root filesystem and kept (DESIGN.md, Layers), names come from the tree's etc/.
tar -C "$src" --owner=someone:"$(id -u)" --group=somegroup:"$(id -g)" --mtime=@123456789 -cf "$SCRATCH/root.tar" .
d3=$(ENVPACK_HOME="$SCRATCH/h3" "$ENVPACK" import "$SCRATCH/root.tar" -t repro/x:1 | awk '{print $2}')
[ "$d1" = "$d3" ] || fail "tar import differs from directory import: $d1 vs $d3"
gzip -c "$SCRATCH/root.tar" > "$SCRATCH/root.tar.gz"
d4=$(ENVPACK_HOME="$SCRATCH/h4" "$ENVPACK" import "$SCRATCH/root.tar.gz" -t repro/x:1 | awk '{print $2}')
[ "$d1" = "$d4" ] || fail "tar.gz import differs: $d1 vs $d4"

# zstd is reproducible too, across thread counts.
z1=$(ENVPACK_HOME="$SCRATCH/z1" ENVPACK_THREADS=1 "$ENVPACK" import "$src" -t repro/z:1 --compression zstd | awk '{print $2}')
z2=$(ENVPACK_HOME="$SCRATCH/z2" ENVPACK_THREADS=3 "$ENVPACK" import "$src" -t repro/z:1 --compression zstd | awk '{print $2}')
[ "$z1" = "$z2" ] || fail "zstd imports differ: $z1 vs $z2"

# SOURCE_DATE_EPOCH keeps (clamped) mtimes and still reproduces.
s1=$(SOURCE_DATE_EPOCH=1700000000 ENVPACK_HOME="$SCRATCH/s1" "$ENVPACK" import "$src" -t repro/s:1 | awk '{print $2}')
s2=$(SOURCE_DATE_EPOCH=1700000000 ENVPACK_HOME="$SCRATCH/s2" "$ENVPACK" import "$src" -t repro/s:1 | awk '{print $2}')
[ "$s1" = "$s2" ] || fail "SOURCE_DATE_EPOCH imports differ"
[ "$s1" != "$d1" ] || fail "SOURCE_DATE_EPOCH had no effect"
expect_exit 2 env SOURCE_DATE_EPOCH=yesterday "$ENVPACK" import "$src" -t repro/s:2
grep -q SOURCE_DATE_EPOCH "$SCRATCH/err" || fail "bad SOURCE_DATE_EPOCH not named"
echo "reproducible: $d1"
