#!/usr/bin/env bash
# envpack.hosts: two "hosts" made by this test as network namespaces (ip netns add, a veth pair
# each on a bridge of the test's own), each with its own ENVPACK_HOME, reached with
# `remote_exec: ip netns exec`. The MPI 2x2 allreduce passes with every node container on its
# host; the second host receives the image's blobs on the first run only (counted in the
# record's hosts.json); outputs come back from both nodes, the lowest node winning a path both
# wrote (listed in status.json); a job variable full of shell syntax reaches every rank intact;
# a TensorFlow job (2 workers + ps) and a PyTorch-style rendezvous (2 x 2 at MASTER_ADDR) over the
# two hosts; the same MPI job through an ssh-like
# transport (arguments joined into one remote command line);
# rank 3 exiting 3 (3 in < 10 s); envpack run SIGKILLed mid-job (the hosts clean up by themselves);
# a host lost mid-job (the run fails in < 10 s; the next run on that host sweeps what was left);
# bad input: a host the transport cannot reach (a namespace that does not exist: 125 before
# anything starts), a hostname not in the list (the broker refuses it), a host without address.
# Nothing of a run is left: containers, mounts, node directories on either host.
# Uses the base_image fixture (base-image.env, read by run_multi_lib.bash).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_multi_lib.bash"
source "$(dirname "$0")/run_hosts_lib.bash"

# 1. MPI 2x2 across the two hosts; host 2 gets the blobs it lacks.
write_job ok "$NS2"
start=$(date +%s.%N)
expect_exit 0 "$ENVPACK" run "$job/ok.yaml"
echo "2x2 MPI on two hosts (first, with blobs): $(echo "$(date +%s.%N) - $start" | bc) s"
id=$(last_run)
for r in 0 1 2 3; do
  h=$NS1; [ $r -ge 2 ] && h=$NS2
  grep -q "rank $r of 4 on $h: allreduce 10 ok" "$SCRATCH/out" || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "rank $r did not report"; }
done
[ "$(sent_to "$id" "$NS1")" = 0 ] || fail "host 1 has the image but got blobs: $(cat "$ENVPACK_HOME/runs/$id/hosts.json")"
first=$(sent_to "$id" "$NS2")
[ "$first" -gt 0 ] || fail "host 2 got no blobs: $(cat "$ENVPACK_HOME/runs/$id/hosts.json")"
grep -q "host $NS2: sent $first blobs" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "the blob count is not printed"; }
# Outputs from both nodes; shared.txt from node 0 (the lowest), the conflict listed.
rec=$ENVPACK_HOME/runs/$id
for r in 0 1 2 3; do [ "$(cat "$rec/outputs/rank$r.txt")" = "$r" ] || { find "$rec" -maxdepth 4; fail "outputs/rank$r.txt missing"; }; done
[ "$(cat "$rec/outputs/shared.txt")" = "node 0" ] || fail "shared.txt: $(cat "$rec/outputs/shared.txt"), wanted node 0's"
[ "$(cat "$rec/nodes/$NS2/outputs/shared.txt")" = "node 1" ] || fail "node 1's own copy is not kept"
status_of "$id" | jq -e --arg n "$NS1" '.output_conflicts | any(startswith("outputs/shared.txt: kept " + $n))' > /dev/null \
  || fail "status.json lists no conflict: $(status_of "$id")"
grep -q "rank 2 of 4 on $NS2" "$rec/nodes/$NS2/logs/ranks/1/rank.2/stdout" || { find "$rec" -path '*ranks*'; fail "rank 2's own log did not come back"; }
manifest_blob=$HOME2/store/blobs/sha256/$(status_of "$id" | jq -r .image.digest | cut -d: -f2)
[ -f "$manifest_blob" ] || fail "host 2's store lacks the manifest"
# The received image has a name on host 2, so that host's gc keeps it.
ENVPACK_HOME=$HOME2 "$ENVPACK" images | grep -q "envpack/received" || fail "host 2 has no name for the image it received"
ENVPACK_HOME=$HOME2 "$ENVPACK" gc > /dev/null
[ -f "$manifest_blob" ] || fail "host 2's gc removed the image it received"
assert_hosts_clean "$id"

# 2. Again: host 2 has everything now.
start=$(date +%s.%N)
expect_exit 0 "$ENVPACK" run "$job/ok.yaml"
echo "2x2 MPI on two hosts (second): $(echo "$(date +%s.%N) - $start" | bc) s"
id=$(last_run)
[ "$(sent_to "$id" "$NS2")" = 0 ] || fail "the second run sent blobs again: $(cat "$ENVPACK_HOME/runs/$id/hosts.json")"
assert_hosts_clean "$id"

# 2b. TensorFlow-style: 2 workers + 1 ps spread over the two hosts, each with its TF_CONFIG naming
#     the hosts' addresses, every task reaching every other over TCP; the ps stopped at the end.
cat > "$job/src/tf_task.py" <<'PY'
import json, os, socket, sys, threading, time
cfg = json.loads(os.environ["TF_CONFIG"])
me_type, me_index = cfg["task"]["type"], cfg["task"]["index"]
me = f"{me_type} {me_index}"
want_hosts = {os.environ["HOST1_ADDR"], os.environ["HOST2_ADDR"]}
assert {ep.rsplit(":", 1)[0] for t in cfg["cluster"] for ep in cfg["cluster"][t]} == want_hosts, cfg
host, port = cfg["cluster"][me_type][me_index].rsplit(":", 1)
srv = socket.create_server((host, int(port)))
def serve():
    while True:
        c, _ = srv.accept()
        c.sendall(me.encode())
        c.close()
threading.Thread(target=serve, daemon=True).start()
if me_type == "ps":
    time.sleep(4716)
for t in ("worker", "ps"):
    for i, ep in enumerate(cfg["cluster"][t]):
        h, p = ep.rsplit(":", 1)
        for attempt in range(600):
            try:
                s = socket.create_connection((h, int(p)), timeout=2)
                break
            except OSError:
                time.sleep(0.05)
        else:
            sys.exit(f"{me}: cannot reach {t} {i} at {ep}")
        assert s.recv(100).decode() == f"{t} {i}"
time.sleep(1)  # the other worker may still be dialling this one
print(f"{me} reached every task", flush=True)
PY
cat > "$job/tf.yaml" <<YAML
code: ./src
command: python3 tf_task.py
environment: {image: $IMAGE}
environment_variables: {HOST1_ADDR: "$prefix.2", HOST2_ADDR: "$prefix.3"}
distribution: {type: tensorflow, worker_count: 2, parameter_server_count: 1}
YAML
hosts_yaml >> "$job/tf.yaml"
expect_exit 0 "$ENVPACK" run "$job/tf.yaml"
for w in 0 1; do
  grep -q "worker $w reached every task" "$SCRATCH/out" || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "worker $w"; }
done
assert_hosts_clean "$(last_run)" tf_task.py

# 2c. PyTorch-style: 2 hosts x 2 processes meet at MASTER_ADDR:MASTER_PORT (host 1's address).
cp "$ENVPACK_SOURCE_DIR/tests/fixtures/rendezvous.py" "$job/src/"
cat > "$job/pt.yaml" <<YAML
code: ./src
command: python3 rendezvous.py
environment: {image: $IMAGE}
environment_variables: {EXPECT_MASTER_ADDR: "$prefix.2"}
resources: {instance_count: 2}
distribution: {type: pytorch, process_count_per_instance: 2}
YAML
hosts_yaml >> "$job/pt.yaml"
expect_exit 0 "$ENVPACK" run "$job/pt.yaml"
grep -q "rank 0: rendezvous of 4 ok" "$SCRATCH/out" || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "no rendezvous at host 1"; }
for r in 1 2 3; do grep -q "rank $r: rendezvous ok" "$SCRATCH/out" || { cat "$SCRATCH/out"; fail "rank $r"; }; done
assert_hosts_clean "$(last_run)" rendezvous.py

# 3. An ssh-like transport: a program named ssh that joins its words after HOST into one line for
#    the remote shell, as ssh does (here the remote side is `ip netns exec HOST sh -c LINE`).
mkdir -p "$SCRATCH/fake"
cat > "$SCRATCH/fake/ssh" <<'SH'
#!/bin/sh
host=$1; shift
exec ip netns exec "$host" sh -c "$*"
SH
chmod +x "$SCRATCH/fake/ssh"
write_job ssh "$NS2" "$SCRATCH/fake/ssh"
expect_exit 0 "$ENVPACK" run "$job/ssh.yaml"
grep -c "allreduce 10 ok" "$SCRATCH/out" | grep -qx 4 || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "the ssh-like transport run"; }
assert_hosts_clean "$(last_run)"

# 3b. Rank 3 (on host 2) exits 3 while the others wait in the allreduce: 3 in < 10 s, nothing
#     left on either host.
write_job hard "$NS2" "ip netns exec" hard
start=$(date +%s.%N)
expect_exit 3 "$ENVPACK" run "$job/hard.yaml"
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "hard failure on host 2: exit 3 after $took s"
[ "$(echo "$took < 10" | bc)" = 1 ] || fail "the failure took $took s"
assert_hosts_clean "$(last_run)"

# 3c. SIGTERM to envpack run mid-job: 143, both nodes stopped and removed, outputs back.
write_job term "$NS2" "ip netns exec" sleep
start_run_bg "$job/term.yaml" "$SCRATCH/term.out"
wait_ranks_started "$SCRATCH/term.out"
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ $rc = 143 ] || { cat "$SCRATCH/term.out"; fail "SIGTERM: exit $rc, wanted 143"; }
[ -f "$ENVPACK_HOME/runs/$id/nodes/$NS2/outputs/rank3.txt" ] || fail "host 2's outputs did not come back after SIGTERM"
assert_hosts_clean "$id"

# 3c'. envpack run killed (SIGKILL) mid-job: each host sees its node run's stdin close and removes
#     its node (container, rootfs, files) by itself, within 10 s.
write_job sleep "$NS2" "ip netns exec" sleep
start_run_bg "$job/sleep.yaml" "$SCRATCH/sleep.out"
wait_ranks_started "$SCRATCH/sleep.out"
kill -9 $pid; wait $pid 2>/dev/null || true
start=$(date +%s.%N)
for i in $(seq 200); do
  runtime_list | grep -q "envpack-$id" || [ -e "$HOME1/node-runs/$id" ] || [ -e "$HOME2/node-runs/$id" ] || break
  sleep 0.05
done
echo "hosts clean after the launcher's SIGKILL: $(echo "$(date +%s.%N) - $start" | bc) s"
assert_hosts_clean "$id"

# 3d. Host 2 lost mid-job (its envpack node run SIGKILLed): the run fails within 10 s naming the
#     host, node 0 is removed from host 1; host 2's leftovers go with the next run there (swept).
write_job lost "$NS2" "ip netns exec" sleep
start_run_bg "$job/lost.yaml" "$SCRATCH/lost.out"
wait_ranks_started "$SCRATCH/lost.out"
node_pid=""
for p in $(pgrep -f -- "node run --run $id --node $NS2"); do
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = envpack ] && node_pid=$p
done
[ -n "$node_pid" ] || fail "host 2's node run of $id not found"
kill -9 "$node_pid"
start=$(date +%s.%N)
set +e; wait $pid; rc=$?; set -e
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "host 2 lost: exit $rc after $took s"
[ $rc != 0 ] || fail "a run that lost a host succeeded"
[ "$(echo "$took < 10" | bc)" = 1 ] || fail "losing a host took $took s to stop the run"
grep -q "host \`$NS2\` was lost" "$SCRATCH/lost.out" || { cat "$SCRATCH/lost.out"; fail "the lost host is not named"; }
[ ! -e "$HOME1/node-runs/$id" ] || fail "node 0 of $id left on host 1"
runtime_list | grep -q "envpack-$id-0" && fail "node 0's container of $id left"
expect_exit 0 "$ENVPACK" run "$job/ok.yaml"  # its node run on host 2 sweeps the dead node
assert_hosts_clean "$id"
assert_hosts_clean "$(last_run)"

# 4. A host the transport cannot reach: 125 naming it, before any node starts.
write_job unreachable "envpack-no-such-ns-$tag"
expect_exit 125 "$ENVPACK" run "$job/unreachable.yaml"
grep -q "host \`envpack-no-such-ns-$tag\` (node 1) cannot be reached through \`ip netns exec\`" "$SCRATCH/err" \
  || { cat "$SCRATCH/err"; fail "the error does not name the host"; }
id=$(last_run)
[ ! -e "$ENVPACK_HOME/runs/$id/remote/$NS1.log" ] || fail "host 1's node was started before host 2 was checked"
assert_hosts_clean "$id"

# 5. mpirun (here: the agent by hand) asking for a host that is not in the list: refused.
cat > "$job/nothost.yaml" <<YAML
command: sh -c 'if [ "\$RANK" = 0 ]; then /.envpack/bin/envpack-agent not-a-host true; fi'
environment: {image: $IMAGE}
resources: {instance_count: 2}
distribution: {type: mpi, process_count_per_instance: 1}
YAML
hosts_yaml >> "$job/nothost.yaml"
set +e; "$ENVPACK" run "$job/nothost.yaml" > "$SCRATCH/out" 2> "$SCRATCH/err"; rc=$?; set -e
[ $rc != 0 ] || fail "a job asking for a host not in the list succeeded"
grep -q "\`not-a-host\` is not a node of this run (nodes: $NS1, $NS2)" "$SCRATCH/out" "$SCRATCH/err" \
  || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "the refusal does not name the host and the list"; }
assert_hosts_clean "$(last_run)"

# 6. A host without address: the job file's line and column, nothing run.
cat > "$job/noaddr.yaml" <<YAML
command: "true"
environment: {image: $IMAGE}
envpack:
  remote_exec: ip netns exec
  hosts:
    - {name: $NS1, address: $prefix.2}
    - {name: $NS2}
YAML
expect_exit 125 "$ENVPACK" run "$job/noaddr.yaml"
grep -q "noaddr.yaml:7:7: host \`$NS2\` needs \`address\`" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "no file:line:column for the missing address"; }
echo "run_hosts: ok"
