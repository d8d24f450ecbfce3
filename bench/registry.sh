#!/bin/bash
# Push and pull of a multi-layer image (~500 MB, 24 layers) to a local docker-registry, envpack
# next to `skopeo copy`, and a re-push of the unchanged image (HEADs only). Prints both sides of
# each comparison and their ratio (skopeo time / envpack time: > 1 means envpack is faster).
# Each round uses a fresh registry. Sizes: BENCH_LAYERS (default 24), BENCH_LAYER_BYTES (default 21000000), BENCH_ROUNDS (default 2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENVPACK=${ENVPACK:-$ROOT/build/cli/envpack}
SCRATCH_PARENT="${BENCH_TMP:-/tmp}"
source "$ROOT/tests/integration/lib.sh"
need docker-registry skopeo curl
LAYERS=${BENCH_LAYERS:-24}
BYTES=${BENCH_LAYER_BYTES:-21000000}
ROUNDS=${BENCH_ROUNDS:-2}

now() { date +%s.%N; }
secs() { "$PY" -c "import sys;print(round(float(sys.argv[2]) - float(sys.argv[1]), 3))" "$1" "$2"; }

echo "making a $LAYERS-layer image of $((LAYERS * BYTES / 1000000)) MB ..."
"$PY" "$FIXTURES/make_layout.py" --layout "$S/src" --tag src --layers "$LAYERS" --bytes "$BYTES" \
    --compression "${BENCH_COMPRESSION:-gzip}" >/dev/null  # gzip: skopeo pushes it as is (it would gzip plain layers)
skopeo copy -q oci:"$S/src":src oci:"$ENVPACK_HOME/store":bench/img:1
du -sh "$S/src" | sed 's/^/image: /'
declare -A total
for round in $(seq 1 "$ROUNDS"); do
    # A fresh registry each round: neither tool can mount blobs it pushed in an earlier round
    # (skopeo's blob-info cache would, envpack's store-name hints could).
    start_registry "bench$round"
    reg_var="REG_bench$round"; R=${!reg_var}
    # push: fresh repositories, so every blob goes up
    t0=$(now); "$ENVPACK" push bench/img:1 "$R/envpack/r$round:1" >/dev/null; t1=$(now)
    skopeo copy -q --dest-tls-verify=false oci:"$S/src":src docker://"$R/skopeo/r$round:1"; t2=$(now)
    ep=$(secs "$t0" "$t1"); sp=$(secs "$t1" "$t2")
    # pull into empty stores
    rm -rf "$S/pull-e" "$S/pull-s"
    t0=$(now); ENVPACK_HOME=$S/pull-e "$ENVPACK" pull "$R/envpack/r$round:1" >/dev/null; t1=$(now)
    skopeo copy -q --src-tls-verify=false docker://"$R/skopeo/r$round:1" oci:"$S/pull-s":img; t2=$(now)
    el=$(secs "$t0" "$t1"); sl=$(secs "$t1" "$t2")
    # re-push of the unchanged image
    t0=$(now); "$ENVPACK" push bench/img:1 "$R/envpack/r$round:1" >/dev/null; t1=$(now)
    skopeo copy -q --dest-tls-verify=false oci:"$S/src":src docker://"$R/skopeo/r$round:1"; t2=$(now)
    er=$(secs "$t0" "$t1"); sr=$(secs "$t1" "$t2")
    printf 'round %d: push envpack %6.2fs skopeo %6.2fs | pull envpack %6.2fs skopeo %6.2fs | re-push envpack %5.2fs skopeo %5.2fs\n' \
        "$round" "$ep" "$sp" "$el" "$sl" "$er" "$sr"
    for k in ep sp el sl er sr; do total[$k]=$(secs "-${!k}" "${total[$k]:-0}"); done
done
ratio() { "$PY" -c "import sys;print(f'{float(sys.argv[2]) / float(sys.argv[1]):.2f}')" "$1" "$2"; }
echo "---- totals over $ROUNDS rounds (ratio = skopeo / envpack, > 1: envpack faster)"
printf 'push     envpack %7.2fs  skopeo %7.2fs  ratio %s\n' "${total[ep]}" "${total[sp]}" "$(ratio "${total[ep]}" "${total[sp]}")"
printf 'pull     envpack %7.2fs  skopeo %7.2fs  ratio %s\n' "${total[el]}" "${total[sl]}" "$(ratio "${total[el]}" "${total[sl]}")"
printf 're-push  envpack %7.2fs  skopeo %7.2fs  ratio %s\n' "${total[er]}" "${total[sr]}" "$(ratio "${total[er]}" "${total[sr]}")"
