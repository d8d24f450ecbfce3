#!/bin/bash
# Two envpack processes importing (and one collecting garbage) at once leave a valid store with
# every image complete.
. "$(dirname "$0")/lib.sh"
need go
for n in 1 2 3 4; do
  mkdir -p "$SCRATCH/src$n/d"
  for i in $(seq 1 20); do head -c 200000 /dev/urandom > "$SCRATCH/src$n/d/f$i"; done
  echo shared > "$SCRATCH/src$n/shared"
done
pids=()
for n in 1 2 3 4; do "$ENVPACK" import "$SCRATCH/src$n" -t "conc/img$n:1" >/dev/null & pids+=($!); done
"$ENVPACK" gc >/dev/null & pids+=($!)
"$ENVPACK" import "$SCRATCH/src1" -t conc/img1:again >/dev/null & pids+=($!)
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent command failed"; done
"$ENVPACK" gc >/dev/null
for n in 1 2 3 4; do
  "$ENVPACK" images | grep -q "conc/img$n:1" || fail "conc/img$n:1 lost"
  "$ENVPACK" export "conc/img$n:1" -o "$SCRATCH/e$n.tar" >/dev/null || fail "conc/img$n:1 incomplete"
done
"$(oci_validator)" "$ENVPACK_HOME/store" >/dev/null || fail "schema validation after concurrent writes"
echo "concurrent ok"
