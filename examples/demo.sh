#!/bin/sh
# The main job, as far as it goes today: make a tiny root filesystem (busybox), import it into
# the local OCI store, list and inspect it, export it for `docker load`, and show that a second,
# fresh store gets the bit-identical image. Offline and fast.
set -eu
ENVPACK=${ENVPACK:-build/cli/envpack}
work=${DEMO_DIR:-build/demo}
rm -rf "$work"; mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
export ENVPACK_HOME="$work/home"

cp /bin/busybox "$work/rootfs/bin/busybox"
for tool in sh echo ls cat env uname; do ln -s busybox "$work/rootfs/bin/$tool"; done
printf 'NAME="envpack demo"\nID=envpack-demo\n' > "$work/rootfs/etc/os-release"

echo "== envpack import $work/rootfs -t demo/base:1"
"$ENVPACK" import "$work/rootfs" -t demo/base:1
echo "== envpack images"
"$ENVPACK" images
echo "== envpack inspect demo/base:1"
"$ENVPACK" inspect demo/base:1
echo "== envpack export demo/base:1 --format docker"
"$ENVPACK" export demo/base:1 -o "$work/demo-base.docker.tar" --format docker
first=$("$ENVPACK" inspect demo/base:1 --json | sed -n 's/^  "digest": "\(.*\)",$/\1/p')
second=$(ENVPACK_HOME="$work/home2" "$ENVPACK" import "$work/rootfs" -t demo/base:1 | cut -d' ' -f2)
echo "== reproducible: $first (store 1) vs $second (fresh store 2)"
[ "$first" = "$second" ]
echo "demo ok: store at $ENVPACK_HOME"
