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
SOLVE="$BUILD_DIR/bench/bench_solve"
SHARED=${ENVPACK_SHARED_DIR:-$ROOT/../shared}
CH="$SHARED/data/conda/channels"
RECORDS=${RECORDS:-300000}
for f in "$BENCH" "$SIMD" "$SOLVE" "$ENVPACK"; do
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
echo "== solve (load = repodata parse, pool = libsolv pool with ranks; target for the large repodata: < 1 s;"
echo "   published: libsolv solves conda-forge tensorflow in 0.654 s on an M2 Max, rattler 0.6.0 blog)"
# One line per request from bench_solve's `key: value` output (resolver-specs' entry point).
solve() {
    local label=$1; shift
    { "$SOLVE" --repeat 3 "$@" 2>/dev/null || true; } | awk -v label="$label" -F': ' '
        { v[$1] = $2 }
        END { printf "%-44s records %7s  load %6.3f s  pool %6.3f s  first solve %6.3f s  best %6.3f s  -> %s\n",
              label, v["records"], v["load_s"], v["pool_s"], v["first_solve_s"], v["best_solve_s"],
              ("packages" in v) ? v["packages"] " packages" : "unsatisfiable" }'
}
solve "conda-forge-numpy: numpy" "$CH/conda-forge-numpy" -- numpy
solve "conda-test-index: python=3.3 numpy" "$CH/conda-test-index" -- python=3.3 numpy
solve "conda-test-index: anaconda" "$CH/conda-test-index" -- anaconda
solve "conda-test-index: numpy mkl" "$CH/conda-test-index" -- numpy mkl
N=$((RECORDS / 12))
solve "generated: pkg-100" "$T/gen" -- pkg-100
solve "generated: pkg-$((N - 1))" "$T/gen" -- "pkg-$((N - 1))"
solve "generated: pkg-$((N - 1)) python=3.10" "$T/gen" -- "pkg-$((N - 1))" python=3.10
solve "generated: 3 leaf packages" "$T/gen" -- "pkg-$((N - 1000))" "pkg-$((N - 2000))" "pkg-$((N / 2))"

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
