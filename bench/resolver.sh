#!/usr/bin/env bash
# Resolver benchmark: repodata parse throughput and peak memory (envpack's scanner next to
# simdjson On-Demand doing the same work), and solve times for typical requests, over the shared
# channels and over a generated repodata of 300,000 records shaped like conda-forge's linux-64.
# Prints each figure next to its target. Run by `make bench` or by hand:
#   BUILD_DIR=build bash bench/resolver.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
ENVPACK=${ENVPACK:-$BUILD_DIR/cli/envpack}
case "$ENVPACK" in /*) ;; *) ENVPACK="$ROOT/$ENVPACK" ;; esac
BENCH="$BUILD_DIR/bench/bench_repodata"
SIMD="$BUILD_DIR/bench/bench_simdjson"
SHARED=${ENVPACK_SHARED_DIR:-$ROOT/../shared}
CH="$SHARED/data/conda/channels"
RECORDS=${RECORDS:-300000}
for f in "$BENCH" "$SIMD" "$ENVPACK"; do
    [ -x "$f" ] || { echo "build first: missing $f" >&2; exit 1; }
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wall times are noisy on a shared box,"
echo "# cpu = user+sys of the parsing process. 'cold' = a fresh process (heap pages faulted in),"
echo "# 'warm' = best of repeats in one process (heap reused)."
echo
echo "== repodata parse (target: > 200 MB/s, peak RSS < 3x JSON)"
for f in "$CH/pytorch/linux-64/repodata.json" "$CH/conda-test-index/linux-64/repodata.json"; do
    echo "-- $(basename "$(dirname "$(dirname "$f")")") (warm, best of 20)"
    "$BENCH" parse "$f" 20
    "$SIMD" "$f" 20
done
mkdir -p "$T/gen/linux-64" "$T/gen/noarch"
"$BENCH" generate "$T/gen/linux-64/repodata.json" "$RECORDS"
cp "$CH/conda-forge-numpy/noarch/repodata.json" "$T/gen/noarch/"
echo "-- generated $RECORDS records: cold, 3 fresh processes"
for _ in 1 2 3; do "$BENCH" parse "$T/gen/linux-64/repodata.json" 1; done
echo "-- generated: warm, best of 3"
"$BENCH" parse "$T/gen/linux-64/repodata.json" 3
echo "-- generated: simdjson On-Demand, same records built (cold, 2 fresh processes)"
for _ in 1 2; do "$SIMD" "$T/gen/linux-64/repodata.json" 1; done
if command -v zstd > /dev/null; then
    zstd -q -3 -T0 "$T/gen/linux-64/repodata.json" -o "$T/gen.json.zst"
    mkdir -p "$T/zst/linux-64"; mv "$T/gen.json.zst" "$T/zst/linux-64/repodata.json.zst"
    echo "-- generated as repodata.json.zst ($(du -m "$T/zst/linux-64/repodata.json.zst" | cut -f1) MB; MB/s of JSON, decompression included)"
    line=$("$BENCH" parse "$T/zst/linux-64/repodata.json.zst" 1)
    echo "$line"
    json_mb=$(du -b "$T/gen/linux-64/repodata.json" | awk '{printf "%.1f", $1 / 1e6}')
    echo "$line" | awk -v j="$json_mb" '{for (i = 1; i <= NF; i++) { if ($i == "cpu") c = $(i+1); if ($i == "RSS") r = $(i+1) }
        printf "   (against the %s MB of JSON: cpu %.0f MB/s, peak RSS %.2fx; json* above = compressed size)\n", j, j / c, r / j}'
fi

echo
echo "== solve (pool = building the libsolv pool; target for the large repodata: < 1 s;"
echo "   published: libsolv solves conda-forge tensorflow in 0.654 s on an M2 Max, rattler 0.6.0 blog)"
"$BENCH" solve "$CH/conda-forge-numpy/linux-64/repodata.json" numpy 2>/dev/null
"$BENCH" solve "$CH/conda-test-index/linux-64/repodata.json" python=3.3 numpy 2>/dev/null
"$BENCH" solve "$CH/conda-test-index/linux-64/repodata.json" anaconda 2>/dev/null
"$BENCH" solve "$CH/conda-test-index/linux-64/repodata.json" numpy mkl 2>/dev/null
"$BENCH" solve "$T/gen/linux-64/repodata.json" pkg-100 2>/dev/null
"$BENCH" solve "$T/gen/linux-64/repodata.json" "pkg-$((RECORDS / 12 - 1))" 2>/dev/null
"$BENCH" solve "$T/gen/linux-64/repodata.json" "pkg-$((RECORDS / 12 - 1))" python=3.10 2>/dev/null
"$BENCH" solve "$T/gen/linux-64/repodata.json" "pkg-$((RECORDS / 12 - 1000))" "pkg-$((RECORDS / 12 - 2000))" \
    "pkg-$((RECORDS / 24))" 2>/dev/null

echo
echo "== envpack lock end to end (fetch from local channel + parse + solve + write)"
export ENVPACK_HOME="$T/home"
printf "channels: [$CH/conda-forge-numpy]\ndependencies: [numpy]\n" > "$T/numpy.yml"
printf "channels: [$T/gen]\ndependencies: [pkg-$((RECORDS / 12 - 1))]\n" > "$T/gen.yml"
for env in numpy gen; do
    start=$(date +%s%N)
    "$ENVPACK" lock -f "$T/$env.yml" -o "$T/$env.lock" 2> /dev/null > /dev/null
    end=$(date +%s%N)
    printf "%-10s %6d ms  %s packages\n" "$env" "$(( (end - start) / 1000000 ))" "$(grep -c '^- name:' "$T/$env.lock")"
done
