#!/usr/bin/env bash
# A 2-node x 2-rank MPI allreduce (mpi4py) through `envpack run` (automatic network namespaces,
# node containers, mpirun's agent through envpack's broker) next to the same mpirun, python3 and
# mpi4py (the image's own tree, chrooted) across two network namespaces on a bridge without
# containers (its rsh agent: nsenter into the other namespace; btl tcp,self since both "nodes"
# share one hostname there). Goal (issue 14): envpack <= 1.2x + 0.2 s. Prints both sides.
# Needs root, runc and the base image fixture (ENVPACK_BUILD_DIR/base-image.env, made by
# `ctest -R base_fixture`). ENVPACK (default build/cli/envpack), ROUNDS (default 5).
set -euo pipefail
ENVPACK=$(realpath "${ENVPACK:-build/cli/envpack}")
ROUNDS=${ROUNDS:-5}
BUILD=${ENVPACK_BUILD_DIR:-$(dirname "$(dirname "$ENVPACK")")}
[ "$(id -u)" = 0 ] || { echo "bench/multinode.sh needs root"; exit 0; }
[ -f "$BUILD/base-image.env" ] || { echo "needs the base image fixture ($BUILD/base-image.env)"; exit 0; }
source "$BUILD/base-image.env"
work=$(mktemp -d /tmp/envpack-bench-multi.XXXXXX)
export ENVPACK_HOME="$work/home"
mkdir -p "$ENVPACK_HOME" "$BASE_IMAGE_HOME/unpacked"
cp -al "$BASE_IMAGE_HOME/store" "$ENVPACK_HOME/store"
ln -s "$BASE_IMAGE_HOME/unpacked" "$ENVPACK_HOME/unpacked"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

mkdir -p "$work/job/src"
cat > "$work/job/src/allreduce.py" <<'PY'
from mpi4py import MPI
import numpy
c = MPI.COMM_WORLD
x = numpy.full(1 << 16, c.Get_rank() + 1.0)
y = numpy.empty_like(x)
for _ in range(20):
    c.Allreduce(x, y)
assert y[0] == sum(range(1, c.Get_size() + 1))
PY
cat > "$work/job/job.yaml" <<YAML
code: ./src
command: python3 allreduce.py
environment: {image: $BASE_IMAGE_REF}
resources: {instance_count: 2}
distribution: {type: mpi, process_count_per_instance: 2}
YAML
"$ENVPACK" unpack "$BASE_IMAGE_REF" > /dev/null
lower="$ENVPACK_HOME/unpacked/${BASE_IMAGE_DIGEST#sha256:}/rootfs"
[ -d "$lower" ] || { echo "no unpacked tree at $lower"; exit 1; }

# The baseline's two namespaces on a bridge, and the image's tree (overlay) to chroot into.
br=epbbench$$; br=${br:0:15}; pfx=10.250.$(( $$ % 200 ))
cleanup() {
  umount -R "$work/root" 2>/dev/null || umount -l "$work/root" 2>/dev/null || true
  ip netns del bn$$-node0 2>/dev/null || true; ip netns del bn$$-node1 2>/dev/null || true
  ip link del "$br" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip link add "$br" type bridge; ip addr add "$pfx.1/24" dev "$br"; ip link set "$br" up
for i in 0 1; do
  ns=bn$$-node$i; ip netns add "$ns"
  ip link add "v${br:3:9}$i" type veth peer name eth0 netns "$ns"
  ip link set "v${br:3:9}$i" master "$br" up
  ip -n "$ns" addr add "$pfx.$((i + 2))/24" dev eth0; ip -n "$ns" link set eth0 up; ip -n "$ns" link set lo up
done
mkdir -p "$work/upper" "$work/ovl" "$work/root"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/ovl" "$work/root"
root="$work/root"
# /sys too, as on any host: without it hwloc skips its topology discovery, which made each
# mpirun/orted start ~150 ms cheaper than on a real machine (mpirun -np 1 true: 206-247 ms
# without /sys, 359-395 ms with it, measured in this chroot).
mount --rbind /proc "$root/proc"; mount --rbind /dev "$root/dev"; mount --rbind /sys "$root/sys"
mount -t tmpfs tmpfs "$root/tmp"
mkdir -p "$root/run/netns" "$root/work"; mount --rbind /run/netns "$root/run/netns"
cp /usr/bin/nsenter "$root/usr/local/bin/nsenter"
printf '#!/bin/sh\nh=$1; shift\nexec nsenter --net=/run/netns/bn%s-$h -- sh -c "$*"\n' "$$" > "$root/usr/local/bin/bench-agent"
chmod 755 "$root/usr/local/bin/bench-agent"
printf '127.0.0.1 localhost\n%s.2 node0\n%s.3 node1\n' "$pfx" "$pfx" > "$root/etc/hosts"
printf 'node0 slots=2\nnode1 slots=2\n' > "$root/work/hostfile"
cp "$work/job/src/allreduce.py" "$root/work/"
# The same yield setting envpack gives mpirun when the ranks outnumber this machine's CPUs.
yield=""; [ "$(nproc)" -lt 4 ] && yield="--mca mpi_yield_when_idle 1"
baseline() {
  nsenter --net=/run/netns/bn$$-node0 chroot "$root" /usr/bin/env OMPI_ALLOW_RUN_AS_ROOT=1 \
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --hostfile /work/hostfile -np 4 --bind-to none \
    --mca plm_rsh_agent /usr/local/bin/bench-agent --mca plm_rsh_no_tree_spawn 1 \
    $yield --mca btl tcp,self --mca btl_tcp_if_include "$pfx.0/24" --mca oob_tcp_if_include "$pfx.0/24" \
    python3 /work/allreduce.py
}

echo "== 2 nodes x 2 ranks, mpi4py Allreduce (20 x 512 KiB), $ROUNDS rounds, median"
eu=(); bu=()
for i in $(seq "$ROUNDS"); do
  t=$(date +%s%N); baseline > "$work/base.log" 2>&1 || { cat "$work/base.log"; exit 1; }; bu+=("$(ms "$t")")
  t=$(date +%s%N); "$ENVPACK" run "$work/job/job.yaml" > "$work/run.log" 2>&1 || { cat "$work/run.log"; exit 1; }; eu+=("$(ms "$t")")
done
e=$(printf '%s\n' "${eu[@]}" | median); b=$(printf '%s\n' "${bu[@]}" | median)
echo "envpack run (containers, namespaces made per run): $e ms   mpirun across namespaces, no containers: $b ms"
echo "ratio $(echo "scale=2; $e / $b" | bc)x; goal <= 1.2x + 200 ms = $(( b * 12 / 10 + 200 )) ms"
