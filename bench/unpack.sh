#!/bin/bash
# Unpack speed: `envpack unpack -o DIR` next to `umoci unpack` on the same image, in one run.
# The image is imported from TREES (default: /usr/lib/gcc, ~240 MB of binaries in ~2,600 files, and
# /usr/share/doc, many small files) as one gzip layer plus one zstd copy for envpack alone.
# Each side runs RUNS times (default 3) into a fresh directory; the best time counts.
# Usage: bench/unpack.sh [TREE...]     ENVPACK=path/to/envpack RUNS=N
set -euo pipefail
ENVPACK=${ENVPACK:-build/cli/envpack}
RUNS=${RUNS:-3}
trees=("$@")
[ ${#trees[@]} -gt 0 ] || trees=(/usr/lib/gcc /usr/share/doc)
scratch=$(mktemp -d "${TMPDIR:-/var/tmp}/envpack-bench-unpack.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export ENVPACK_HOME="$scratch/home"
now() { date +%s.%N; }
elapsed() { /usr/bin/python3 -c "print(f'{$2-$1:.3f}')"; }

src="$scratch/src"
mkdir -p "$src"
for t in "${trees[@]}"; do
  mkdir -p "$src/$(dirname "$t")"
  cp -a "$t" "$src/$t"
done
bytes=$(du -sb "$src" | cut -f1)
files=$(find "$src" | wc -l)
"$ENVPACK" -q import "$src" -t bench/unpack:gz --compression gzip > /dev/null
"$ENVPACK" -q import "$src" -t bench/unpack:zst --compression zstd > /dev/null
rm -rf "$src"
layer_size=$(du -sb "$ENVPACK_HOME/store/blobs" | cut -f1)

# best_of CMD...: runs CMD (with $OUT a fresh directory) RUNS times, prints the best seconds.
best_of() {
  local best="" i t0 t1 s
  for i in $(seq "$RUNS"); do
    export OUT="$scratch/out-$i"
    rm -rf "$OUT"
    sync
    t0=$(now); "$@" > /dev/null; t1=$(now)
    s=$(elapsed "$t0" "$t1")
    best=$(/usr/bin/python3 -c "print(min(float('$s'), float('${best:-1e9}')))")
    rm -rf "$OUT"
  done
  echo "$best"
}
umoci_s=$(best_of sh -c 'umoci unpack --image "$ENVPACK_HOME/store:bench/unpack:gz" "$OUT"')
envpack_s=$(best_of sh -c '"$0" -q unpack bench/unpack:gz -o "$OUT/rootfs"' "$ENVPACK")
envpack_zst_s=$(best_of sh -c '"$0" -q unpack bench/unpack:zst -o "$OUT/rootfs"' "$ENVPACK")

echo "image: ${trees[*]}: $(/usr/bin/python3 -c "print(f'{$bytes/1e6:.1f}')") MB in $files entries; blobs $(/usr/bin/python3 -c "print(f'{$layer_size/1e6:.1f}')") MB; $(nproc) cores; best of $RUNS"
printf '%-36s %8s\n' "" "seconds"
printf '%-36s %8s\n' "umoci unpack (gzip layer)" "$umoci_s"
printf '%-36s %8s\n' "envpack unpack -o (gzip layer)" "$envpack_s"
printf '%-36s %8s\n' "envpack unpack -o (zstd layer)" "$envpack_zst_s"
/usr/bin/python3 - "$umoci_s" "$envpack_s" <<'PY'
import sys
u, e = map(float, sys.argv[1:])
print(f"envpack vs umoci: {u/e:.1f}x faster (goal >= 2x)")
PY
