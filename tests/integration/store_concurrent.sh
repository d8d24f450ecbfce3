#!/bin/bash
# Four envpack processes importing (and one collecting garbage) at once leave a valid store with
# every image complete. They are released together from a barrier, and the test proves that they
# did run at the same time (their start-to-end intervals overlap) before it judges the store.
. "$(dirname "$0")/lib.sh"
need go
for n in 1 2 3 4; do
  mkdir -p "$SCRATCH/src$n/d"
  for i in $(seq 1 20); do head -c 200000 /dev/urandom > "$SCRATCH/src$n/d/f$i"; done
  echo shared > "$SCRATCH/src$n/shared"
done
# run NAME CMD...: waits for the barrier, runs CMD, records "start end" (ns) in $SCRATCH/t.NAME.
run() {
  local name=$1; shift
  while [ ! -e "$SCRATCH/go" ]; do sleep 0.005; done
  local start; start=$(date +%s%N)
  "$@" >/dev/null
  local rc=$?
  echo "$start $(date +%s%N)" > "$SCRATCH/t.$name"
  return $rc
}
pids=()
for n in 1 2 3 4; do run "import$n" "$ENVPACK" import "$SCRATCH/src$n" -t "conc/img$n:1" & pids+=($!); done
run gc "$ENVPACK" gc & pids+=($!)
run again "$ENVPACK" import "$SCRATCH/src1" -t conc/img1:again & pids+=($!)
touch "$SCRATCH/go"
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent command failed"; done
# Overlap: every command ran while at least one other was running.
"$PY" - "$SCRATCH" <<'PY' || fail "the commands did not run at the same time: nothing was tested"
import glob, os, sys
spans = {os.path.basename(f)[2:]: tuple(map(int, open(f).read().split()))
         for f in glob.glob(sys.argv[1] + "/t.*")}
assert len(spans) == 6, spans
t0 = min(s for s, _ in spans.values())
alone = [n for n, (s, e) in spans.items()
         if not any(m != n and s < e2 and s2 < e for m, (s2, e2) in spans.items())]
print("spans (ms):", {n: (round((s - t0) / 1e6, 1), round((e - t0) / 1e6, 1)) for n, (s, e) in spans.items()})
sys.exit(1 if alone else 0)
PY
"$ENVPACK" gc >/dev/null
for n in 1 2 3 4; do
  "$ENVPACK" images | grep -q "conc/img$n:1" || fail "conc/img$n:1 lost"
  "$ENVPACK" export "conc/img$n:1" -o "$SCRATCH/e$n.tar" >/dev/null || fail "conc/img$n:1 incomplete"
done
"$(oci_validator)" "$ENVPACK_HOME/store" >/dev/null || fail "schema validation after concurrent writes"
echo "concurrent ok"
