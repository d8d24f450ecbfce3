#!/usr/bin/env bash
# envpack run next to the runtime it drives (root, runc, a static busybox):
#  1. start-to-exit of a /bin/true job through `envpack run` (image already unpacked; its runtime
#     is crun where installed, else runc) next to `crun run` and `runc run` on a prepared bundle
#     (goal: within 1.3x + 50 ms of the runtime envpack drives; crun on hybrid cgroups as envpack
#     runs it: no cgroup mount, --cgroup-manager=disabled, /sys/fs/cgroup/unified unmounted in a
#     private mount namespace);
#  2. the first run's unpack (`envpack unpack`, the cache `run` uses) next to `umoci unpack`.
# Prints both sides in one run. ENVPACK (default build/cli/envpack), ROUNDS (default 10).
set -euo pipefail
ENVPACK=$(realpath "${ENVPACK:-build/cli/envpack}")
ROUNDS=${ROUNDS:-10}
[ "$(id -u)" = 0 ] || { echo "bench/run.sh needs root"; exit 0; }
for t in runc umoci busybox; do command -v $t > /dev/null || { echo "needs $t"; exit 0; }; done
work=$(mktemp -d /tmp/envpack-bench-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
export ENVPACK_HOME="$work/home"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# A busybox image plus, to make the unpack comparison worth measuring, /usr/lib/gcc's files.
root="$work/root"; mkdir -p "$root/bin" "$root/etc" "$root/usr/lib"
cp "$(command -v busybox)" "$root/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
cp -a /usr/lib/gcc "$root/usr/lib/gcc" 2>/dev/null || true
"$ENVPACK" import "$root" -t bench/run:1 > /dev/null
size=$(du -sm "$root" | cut -f1)

echo "== first run's unpack ($size MB tree), $ROUNDS rounds, median"
eu=(); uu=()
for i in $(seq "$ROUNDS"); do
  rm -rf "$ENVPACK_HOME/unpacked"
  t=$(date +%s%N); "$ENVPACK" unpack bench/run:1 > /dev/null; eu+=("$(ms "$t")")
  rm -rf "$work/umoci"
  t=$(date +%s%N); umoci unpack --image "$ENVPACK_HOME/store:bench/run:1" "$work/umoci" > /dev/null 2>&1; uu+=("$(ms "$t")")
done
echo "envpack unpack: $(printf '%s\n' "${eu[@]}" | median) ms   umoci unpack: $(printf '%s\n' "${uu[@]}" | median) ms"

echo "== /bin/true start to exit, $ROUNDS rounds, median"
cat > "$work/true.yaml" <<'YAML'
command: /bin/true
environment: {image: bench/run:1}
YAML
"$ENVPACK" run "$work/true.yaml" 2> /dev/null  # the unpack cache is warm from here on
# runc's side: the same unpacked tree as a bundle, config.json from `runc spec` (terminal off).
bundle="$work/bundle"; mkdir -p "$bundle"
rootfs=$(ls -d "$ENVPACK_HOME"/unpacked/*/rootfs | head -n 1)
(cd "$bundle" && runc spec && ROOTFS="$rootfs" python3 - <<'PY'
import json, os
c = json.load(open("config.json"))
c["root"] = {"path": os.environ["ROOTFS"], "readonly": True}
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open("config.json", "w"))
PY
)
crun_bundle="$work/crun-bundle"; mkdir -p "$crun_bundle"
python3 - "$bundle/config.json" "$crun_bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["mounts"] = [m for m in c["mounts"] if m.get("type") != "cgroup"]
json.dump(c, open(sys.argv[2], "w"))
PY
crun_run() {
  if grep -q " /sys/fs/cgroup/unified " /proc/self/mountinfo; then
    (cd "$crun_bundle" && unshare -m sh -c "mount --make-rprivate / && umount -l /sys/fs/cgroup/unified && exec crun --cgroup-manager=disabled run $1" < /dev/null)
  else
    (cd "$crun_bundle" && crun run "$1" < /dev/null)
  fi
}
have_crun=$(command -v crun > /dev/null && echo yes || echo no)
er=(); rr=(); cr=()
for i in $(seq "$ROUNDS"); do
  t=$(date +%s%N); "$ENVPACK" run "$work/true.yaml" 2> /dev/null; er+=("$(ms "$t")")
  t=$(date +%s%N); (cd "$bundle" && runc run "bench-$$-$i" < /dev/null); rr+=("$(ms "$t")")
  if [ $have_crun = yes ]; then t=$(date +%s%N); crun_run "bench-c$$-$i"; cr+=("$(ms "$t")"); fi
done
e=$(printf '%s\n' "${er[@]}" | median); r=$(printf '%s\n' "${rr[@]}" | median)
if [ $have_crun = yes ]; then
  c=$(printf '%s\n' "${cr[@]}" | median)
  echo "envpack run (crun): $e ms   crun run: $c ms   runc run: $r ms   goal: <= $(( c * 13 / 10 + 50 )) ms (1.3x + 50 ms of crun)"
else
  echo "envpack run (runc): $e ms   runc run: $r ms   goal: <= $(( r * 13 / 10 + 50 )) ms (1.3x + 50 ms)"
fi
