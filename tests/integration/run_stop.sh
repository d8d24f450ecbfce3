# Stopping runs (root, runc): one failed process stops the others; SIGTERM to envpack run leaves
# nothing behind; --detach, logs -f, cancel.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.bash"
make_busybox_image
job="$SCRATCH/job"; mkdir -p "$job"

# 1. Two processes in one node container (pytorch, 2 per node): rank 1 fails with 3, rank 0
#    (sleeping) is stopped, the run exits 3 within seconds.
cat > "$job/pair.yaml" <<'YAML'
command: if [ "$RANK" = 1 ]; then sleep 1; exit 3; fi; sleep 4712
environment: {image: it/bb:1}
distribution: {type: pytorch, process_count_per_instance: 2}
YAML
start=$(date +%s)
expect_exit 3 "$ENVPACK" run "$job/pair.yaml"
[ $(( $(date +%s) - start )) -lt 20 ] || fail "the failure did not stop the other rank quickly"
id=$(last_run)
[ -f "$ENVPACK_HOME/runs/$id/logs/rank-0.log" ] || fail "no per-rank logs"
assert_nothing_left "$id" "sleep 4712"

# 2. SIGTERM to envpack run mid-job: 143, nothing left.
cat > "$job/long.yaml" <<'YAML'
command: echo started; sleep 4713
environment: {image: it/bb:1}
YAML
start_run_bg "$job/long.yaml" "$SCRATCH/long.out"
for i in $(seq 100); do pgrep -f "sleep 4713" > /dev/null && break; sleep 0.05; done
# The overlay is there while it runs (in envpack's private mount namespace)...
grep -q "$ENVPACK_HOME/runs/$id/nodes/.*/rootfs" /proc/$pid/mounts || fail "no rootfs mount seen while running"
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ $rc = 143 ] || { cat "$SCRATCH/long.out"; fail "SIGTERM: exit $rc, wanted 143"; }
[ "$(status_of "$id" | jfield reason)" = signal ] || fail "reason: $(status_of "$id")"
assert_nothing_left "$id" "sleep 4713"

# 3. --detach prints the ID at once; logs -f follows; cancel stops it.
cat > "$job/ticks.yaml" <<'YAML'
command: i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done
environment: {image: it/bb:1}
YAML
expect_exit 0 "$ENVPACK" run --detach "$job/ticks.yaml"
id=$(cat "$SCRATCH/out"); [ -d "$ENVPACK_HOME/runs/$id" ] || fail "--detach printed `$id`, not a run ID"
"$ENVPACK" logs -f "$id" > "$SCRATCH/follow.out" 2>&1 & follower=$!
cleanup "kill $follower 2>/dev/null"
for i in $(seq 200); do grep -q "tick 3" "$SCRATCH/follow.out" && break; sleep 0.05; done
grep -q "tick 3" "$SCRATCH/follow.out" || fail "logs -f shows no ticks"
expect_exit 0 "$ENVPACK" cancel "$id"
for i in $(seq 200); do kill -0 $follower 2>/dev/null || break; sleep 0.05; done
! kill -0 $follower 2>/dev/null || fail "logs -f still follows a cancelled run"
s=$(status_of "$id")
[ "$(echo "$s" | jfield reason)" = cancelled ] || fail "reason: $s"
[ "$(echo "$s" | jfield phase)" = finished ] || fail "phase: $s"
assert_nothing_left "$id" "tick"
echo "run_stop: ok"
