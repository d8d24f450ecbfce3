#!/usr/bin/env bash
# MPI across two nodes on this machine (automatic network namespaces, root, runc, the base image):
# 2 nodes x 2 ranks allreduce and check their environment; mpirun in node 0 reaches node 1 through
# the agent and broker; one rank exiting 3 (hard or soft) ends the run with 3 in < 10 s; SIGTERM
# mid-job; an image without MPI is refused before anything starts; and in
# every case nothing is left (containers, namespaces, bridge, mounts).
# Uses the base_image fixture (base-image.env, read by run_multi_lib.bash).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_multi_lib.bash"
job="$SCRATCH/job"; mkdir -p "$job/src"
cat > "$job/src/check.py" <<'PY'
import os, socket, sys, time
from mpi4py import MPI
comm = MPI.COMM_WORLD
r, n = comm.Get_rank(), comm.Get_size()
env = os.environ
mode = env.get("FAIL_MODE", "")
if mode == "hard" and r == 3:
    print("rank 3 fails hard", flush=True)
    os._exit(3)
if mode == "soft" and r == 3:
    print("rank 3 fails soft", flush=True)
    sys.exit(3)
total = comm.allreduce(r + 1)
assert n == 4, n
assert total == 10, total
want = {"OMPI_COMM_WORLD_RANK": r, "OMPI_COMM_WORLD_SIZE": 4, "OMPI_COMM_WORLD_LOCAL_RANK": r % 2,
        "OMPI_COMM_WORLD_LOCAL_SIZE": 2, "RANK": r, "WORLD_SIZE": 4, "LOCAL_RANK": r % 2,
        "LOCAL_WORLD_SIZE": 2, "NODE_RANK": r // 2}
for k, v in want.items():
    assert env.get(k) == str(v), (k, env.get(k), v)
host = socket.gethostname()
assert host == f"node{r // 2}", host
master = env["MASTER_ADDR"]
assert env["AZ_BATCH_MASTER_NODE"] == f"{master}:{env['MASTER_PORT']}", env["AZ_BATCH_MASTER_NODE"]
assert env["AZ_BATCHAI_MPI_MASTER_NODE"] == master
assert socket.gethostbyname("node0") == master
print(f"rank {r} of {n} on {host}: allreduce {total} ok", flush=True)
if mode == "sleep":
    time.sleep(4714)
PY
write_job() {  # NAME FAIL_MODE
  cat > "$job/$1.yaml" <<YAML
code: ./src
command: python3 check.py
environment: {image: $IMAGE}
environment_variables: {FAIL_MODE: "$2"}
resources: {instance_count: 2}
distribution: {type: mpi, process_count_per_instance: 2}
YAML
}

# 1. 2 x 2 ranks allreduce over the node network.
write_job ok ""
start=$(date +%s.%N)
expect_exit 0 "$ENVPACK" run "$job/ok.yaml"
echo "2x2 MPI run: $(echo "$(date +%s.%N) - $start" | bc) s"
id=$(last_run)
for r in 0 1 2 3; do
  grep -q "rank $r of 4 on node$((r / 2)): allreduce 10 ok" "$SCRATCH/out" || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "rank $r did not report"; }
done
[ "$(status_of "$id" | jq -r .exit_code)" = 0 ] || fail "status: $(status_of "$id")"
# Each rank's output kept apart in the record, on its node's side (node 1 under nodes/node1).
for r in 0 1 2 3; do
  base="$ENVPACK_HOME/runs/$id"; [ $r -ge 2 ] && base="$base/nodes/node1"
  grep -q "rank $r of 4 on node$((r / 2)): allreduce 10 ok" "$base/logs/ranks/1/rank.$r/stdout" \
    || { find "$ENVPACK_HOME/runs/$id" -path '*ranks*'; fail "rank $r's own log is missing"; }
done
assert_nothing_left "$id"

# 2. Rank 3 exits 3 (os._exit, hard) while the others wait in the allreduce: exit 3 in < 10 s.
write_job hard hard
start=$(date +%s.%N)
expect_exit 3 "$ENVPACK" run "$job/hard.yaml"
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "hard failure: exit 3 after $took s"
[ "$(echo "$took < 10" | bc)" = 1 ] || fail "the failure took $took s"
assert_nothing_left "$(last_run)"

# 2b. The same with sys.exit(3) (soft: mpi4py would wait in MPI_Finalize): still 3 in < 10 s.
write_job soft soft
start=$(date +%s.%N)
expect_exit 3 "$ENVPACK" run "$job/soft.yaml"
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "soft failure: exit 3 after $took s"
[ "$(echo "$took < 10" | bc)" = 1 ] || fail "the failure took $took s"
assert_nothing_left "$(last_run)" "check.py"

# 3. SIGTERM to envpack run while the ranks run: 143, nothing left.
write_job sleep sleep
start_run_bg "$job/sleep.yaml" "$SCRATCH/sleep.out"
wait_ranks_started "$SCRATCH/sleep.out"
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ $rc = 143 ] || { cat "$SCRATCH/sleep.out"; fail "SIGTERM: exit $rc, wanted 143"; }
assert_nothing_left "$id" "check.py"

# 4. An image without MPI for an mpi job: 127 naming mpirun before anything starts, nothing left.
if command -v busybox > /dev/null && file -L "$(command -v busybox)" | grep -q 'statically linked'; then
  bb="$SCRATCH/bbroot"; mkdir -p "$bb/bin" "$bb/etc" "$bb/workspace"
  cp "$(command -v busybox)" "$bb/bin/busybox"
  for a in $(busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$bb/bin/$a"; done
  "$ENVPACK" import "$bb" -t it/bb:1 > /dev/null
  cat > "$job/nompi.yaml" <<'YAML'
command: echo never
environment: {image: it/bb:1}
resources: {instance_count: 2}
distribution: {type: mpi, process_count_per_instance: 2}
YAML
  expect_exit 127 "$ENVPACK" run "$job/nompi.yaml"
  grep -q "mpirun" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "the error does not name mpirun"; }
  assert_nothing_left "$(last_run)"
else
  skip_part "no static busybox for the image without MPI"
fi
echo "run_mpi: ok"
