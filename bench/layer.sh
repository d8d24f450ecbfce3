#!/bin/bash
# Layer writing speed: `envpack import` (deterministic tar + parallel libdeflate gzip, or zstd)
# next to `tar -c | gzip -6` and `tar -c | zstd -3 -T0` on the same tree, in one run.
# Usage: bench/layer.sh [TREE]   (default /usr/lib/gcc, ~240 MB of real binaries)
set -euo pipefail
ENVPACK=${ENVPACK:-build/cli/envpack}
tree=${1:-/usr/lib/gcc}
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
export ENVPACK_HOME="$scratch/home"
bytes=$(du -sb "$tree" | cut -f1)
mb() { /usr/bin/python3 -c "print(f'{$1/1e6:.1f}')"; }
now() { date +%s.%N; }
elapsed() { /usr/bin/python3 -c "print(f'{$2-$1:.2f}')"; }
# Warm the page cache so both sides read from memory.
tar -C "$tree" -cf - . > /dev/null

t0=$(now); tar -C "$tree" -cf - . | gzip -6 > "$scratch/ref.tar.gz"; t1=$(now)
ref_gz_s=$(elapsed $t0 $t1); ref_gz_size=$(stat -c %s "$scratch/ref.tar.gz")
t0=$(now); tar -C "$tree" -cf - . | zstd -q -3 -T0 > "$scratch/ref.tar.zst"; t1=$(now)
ref_zst_s=$(elapsed $t0 $t1); ref_zst_size=$(stat -c %s "$scratch/ref.tar.zst")

t0=$(now); "$ENVPACK" -q import "$tree" -t bench/gz:1 --compression gzip --json > "$scratch/gz.json"; t1=$(now)
ep_gz_s=$(elapsed $t0 $t1)
t0=$(now); "$ENVPACK" -q import "$tree" -t bench/zst:1 --compression zstd --json > "$scratch/zst.json"; t1=$(now)
ep_zst_s=$(elapsed $t0 $t1)
size_of() { /usr/bin/python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["layer"]["size"])' "$1"; }
ep_gz_size=$(size_of "$scratch/gz.json"); ep_zst_size=$(size_of "$scratch/zst.json")

echo "tree: $tree, $(mb $bytes) MB, $(nproc) cores"
printf '%-34s %8s %10s\n' "" "seconds" "MB out"
printf '%-34s %8s %10s\n' "tar -c | gzip -6" "$ref_gz_s" "$(mb $ref_gz_size)"
printf '%-34s %8s %10s\n' "envpack import --compression gzip" "$ep_gz_s" "$(mb $ep_gz_size)"
printf '%-34s %8s %10s\n' "tar -c | zstd -3 -T0" "$ref_zst_s" "$(mb $ref_zst_size)"
printf '%-34s %8s %10s\n' "envpack import --compression zstd" "$ep_zst_s" "$(mb $ep_zst_size)"
/usr/bin/python3 - "$ref_gz_s" "$ep_gz_s" "$ref_gz_size" "$ep_gz_size" "$ep_zst_s" <<'PY'
import sys
ref, ep, rs, es, zs = map(float, sys.argv[1:])
print(f"gzip speed-up vs tar|gzip -6: {ref/ep:.1f}x (target >= 3x); size {100*(es-rs)/rs:+.1f}% (target within 10%)")
print(f"zstd vs envpack gzip: {ep/zs:.1f}x faster")
PY

# The per-level table behind the choice of libdeflate level (single core, 1 MiB chunks).
deflate_bench=${BUILD_DIR:-build}/bench/bench_deflate
if [ -x "$deflate_bench" ]; then
  tar -C "$tree" -cf "$scratch/in.tar" .
  echo "single-core compressor table ($deflate_bench):"
  "$deflate_bench" "$scratch/in.tar"
fi
