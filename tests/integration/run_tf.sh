#!/usr/bin/env bash
# TensorFlow-style and PyTorch-style jobs across two namespaced nodes (root, runc, the base image):
# 2 workers + 1 ps each parse TF_CONFIG and reach every other task over TCP (plain sockets: no
# TensorFlow in the image); the ps is stopped once the workers are done. 2 x 2 PyTorch processes
# rendezvous at MASTER_ADDR:MASTER_PORT. A failing TF worker (exit 3) ends the run with 3 quickly.
# Uses the base_image fixture (base-image.env, read by run_multi_lib.bash).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_multi_lib.bash"
job="$SCRATCH/job"; mkdir -p "$job/src"
cat > "$job/src/tf_task.py" <<'PY'
import json, os, socket, sys, threading, time
cfg = json.loads(os.environ["TF_CONFIG"])
assert cfg["environment"] == "cloud" and set(cfg["cluster"]) == {"worker", "ps"}, cfg
me_type, me_index = cfg["task"]["type"], cfg["task"]["index"]
me = f"{me_type} {me_index}"
assert len(cfg["cluster"]["worker"]) == 2 and len(cfg["cluster"]["ps"]) == 1, cfg
host, port = cfg["cluster"][me_type][me_index].rsplit(":", 1)
if me_type == "worker" and me_index == int(os.environ.get("FAIL_WORKER", "-1")):
    time.sleep(1)
    print(f"{me} fails", flush=True)
    sys.exit(3)
heard = set()
srv = socket.create_server((host, int(port)))
def serve():
    while True:
        c, _ = srv.accept()
        heard.add(c.recv(100).decode())
        c.sendall(me.encode())
        c.close()
threading.Thread(target=serve, daemon=True).start()
if me_type == "ps":
    time.sleep(4715)
others = [(t, i, ep) for t in ("worker", "ps") for i, ep in enumerate(cfg["cluster"][t])
          if (t, i) != (me_type, me_index)]
for t, i, ep in others:
    h, p = ep.rsplit(":", 1)
    for attempt in range(600):
        try:
            s = socket.create_connection((h, int(p)), timeout=2)
            break
        except OSError:
            time.sleep(0.05)
    else:
        sys.exit(f"{me}: cannot reach {t} {i} at {ep}")
    s.sendall(me.encode())
    got = s.recv(100).decode()
    assert got == f"{t} {i}", got
    print(f"{me} reached {got} at {ep}", flush=True)
# Stay up until the other worker has reached us too.
other_worker = f"worker {1 - me_index}"
for _ in range(600):
    if other_worker in heard:
        break
    time.sleep(0.05)
assert other_worker in heard, heard
print(f"{me} done", flush=True)
PY
cp "$ENVPACK_SOURCE_DIR/tests/fixtures/rendezvous.py" "$job/src/"
write_tf() {  # NAME FAIL_WORKER
  cat > "$job/$1.yaml" <<YAML
code: ./src
command: python3 tf_task.py
environment: {image: $IMAGE}
environment_variables: {FAIL_WORKER: "$2"}
resources: {instance_count: 2}
distribution: {type: tensorflow, worker_count: 2, parameter_server_count: 1}
YAML
}

# 1. 2 workers + 1 ps: everyone reaches everyone; the ps is stopped at the end; exit 0.
write_tf tf -1
expect_exit 0 "$ENVPACK" run "$job/tf.yaml"
id=$(last_run); rec="$ENVPACK_HOME/runs/$id"
for w in 0 1; do
  grep -q "worker $w done" "$rec/logs/worker-$w.log" || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "worker $w did not finish"; }
  grep -q "worker $w reached ps 0" "$rec/logs/worker-$w.log" || fail "worker $w did not reach the ps"
done
assert_nothing_left "$id" "tf_task.py"

# 2. Worker 1 exits 3: the run exits 3 within 10 s, the ps and worker 0 stopped.
write_tf tf_fail 1
start=$(date +%s.%N)
expect_exit 3 "$ENVPACK" run "$job/tf_fail.yaml"
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "TF worker failure: exit 3 after $took s"
[ "$(echo "$took < 10" | bc)" = 1 ] || fail "the failure took $took s"
assert_nothing_left "$(last_run)" "tf_task.py"

# 3. PyTorch style: 2 nodes x 2 processes meet at MASTER_ADDR:MASTER_PORT.
cat > "$job/pt.yaml" <<YAML
code: ./src
command: python3 rendezvous.py
environment: {image: $IMAGE}
environment_variables: {EXPECT_NODE_HOSTNAMES: "1"}
resources: {instance_count: 2}
distribution: {type: pytorch, process_count_per_instance: 2}
YAML
expect_exit 0 "$ENVPACK" run "$job/pt.yaml"
id=$(last_run); rec="$ENVPACK_HOME/runs/$id"
grep -q "rank 0: rendezvous of 4 ok" "$rec/logs/rank-0.log" || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "no rendezvous"; }
for r in 1 2 3; do grep -q "rank $r: rendezvous ok" "$rec/logs/rank-$r.log" || fail "rank $r"; done
assert_nothing_left "$id"
echo "run_tf: ok"
