# Shared by run_hosts.sh and run_ssh.sh (sourced after lib.sh and run_multi_lib.bash): two
# "hosts" made by the test as network namespaces (NS1, NS2: a veth pair each on the test's own
# bridge, addresses $prefix.2 and .3), removed on exit; HOME1 (the launcher's ENVPACK_HOME, which
# holds the image) and HOME2 (empty: it receives the blobs); an MPI 2x2 check script in $job/src;
# write_job NAME HOST2_NAME [REMOTE_EXEC [FAIL_MODE]]; sent_to RUN HOST (blobs sent to HOST);
# assert_hosts_clean RUN [MARKER] (nothing of the run on either host, nor here).
need tar

# ---- the test's two hosts -------------------------------------------------------------------
tag=$(printf '%04x' $((RANDOM % 65536)))
NS1=eph1-$tag; NS2=eph2-$tag; BR=ephb$tag
prefix=""
for i in $(seq 40); do
  p="10.$((100 + RANDOM % 60)).$((RANDOM % 250))"
  ip -o -4 addr | grep -q " $p\." || { prefix=$p; break; }
done
[ -n "$prefix" ] || fail "no free /24 for the test's hosts"
cleanup "ip netns del $NS1 2>/dev/null; ip netns del $NS2 2>/dev/null; ip link del $BR 2>/dev/null"
ip link add "$BR" type bridge
ip addr add "$prefix.1/24" dev "$BR"
ip link set "$BR" up
n=0
for ns in "$NS1" "$NS2"; do
  n=$((n + 1))
  ip netns add "$ns"
  ip link add "ephv$n$tag" type veth peer name eth0 netns "$ns"
  ip link set "ephv$n$tag" master "$BR" up
  ip -n "$ns" addr add "$prefix.$((n + 1))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

HOME1=$ENVPACK_HOME          # host 1 shares the launcher's home: it has the image
HOME2=$SCRATCH/home2         # host 2 starts empty: it receives the blobs
mkdir -p "$HOME2"

job="$SCRATCH/job"; mkdir -p "$job/src"
cat > "$job/src/check.py" <<PY
import os, socket
from mpi4py import MPI
comm = MPI.COMM_WORLD
r, n = comm.Get_rank(), comm.Get_size()
env = os.environ
if env.get("FAIL_MODE") == "hard" and r == 3:
    print("rank 3 fails hard", flush=True)
    os._exit(3)
total = comm.allreduce(r + 1)
assert n == 4 and total == 10, (n, total)
hosts = ["$NS1", "$NS2"]
host = socket.gethostname()
assert host == hosts[r // 2], host
want = {"OMPI_COMM_WORLD_RANK": r, "RANK": r, "WORLD_SIZE": 4, "LOCAL_RANK": r % 2, "NODE_RANK": r // 2}
for k, v in want.items():
    assert env.get(k) == str(v), (k, env.get(k), v)
assert env["MASTER_ADDR"] == "$prefix.2", env["MASTER_ADDR"]
assert socket.gethostbyname("$NS2") == "$prefix.3"
PY
cat >> "$job/src/check.py" <<'PY'
nasty = 'sp ace \'single\' "double" $HOME $(id -u) `tick` ; & | * \\back\nline2'
assert env.get("NASTY") == nasty, repr(env.get("NASTY"))
os.makedirs("outputs", exist_ok=True)
with open(f"outputs/rank{r}.txt", "w") as f:
    f.write(f"{r}\n")
if r % 2 == 0:
    with open("outputs/shared.txt", "w") as f:
        f.write(f"node {r // 2}\n")
print(f"rank {r} of {n} on {host}: allreduce {total} ok", flush=True)
if env.get("FAIL_MODE") == "sleep":
    import time
    time.sleep(4714)
PY
# hosts_yaml [HOST2_NAME [REMOTE_EXEC]]: a job's `envpack:` block for the two hosts.
hosts_yaml() {
  cat <<YAML
envpack:
  remote_exec: ${2:-ip netns exec}
  hosts:
    - {name: $NS1, address: $prefix.2, home: $HOME1, program: $ENVPACK}
    - {name: ${1:-$NS2}, address: $prefix.3, home: $HOME2, program: $ENVPACK}
YAML
}
write_job() {  # NAME HOST2_NAME [REMOTE_EXEC [FAIL_MODE]]
  cat > "$job/$1.yaml" <<YAML
code: ./src
command: python3 check.py
environment: {image: $IMAGE}
resources: {instance_count: 2}
distribution: {type: mpi, process_count_per_instance: 2}
YAML
  hosts_yaml "$2" "${3:-}" >> "$job/$1.yaml"
  cat >> "$job/$1.yaml" <<'YAML'
environment_variables:
  NASTY: "sp ace 'single' \"double\" $HOME $(id -u) `tick` ; & | * \\back\nline2"
YAML
  echo "  FAIL_MODE: \"${4:-}\"" >> "$job/$1.yaml"
}
sent_to() { jq -r ".[] | select(.host == \"$2\") | .blobs_sent" "$ENVPACK_HOME/runs/$1/hosts.json"; }
# Nothing of run $1 on either host: no node directory, no mount, no container.
assert_hosts_clean() {  # RUN [PROCESS_MARKER]
  local id=$1 marker=${2:-check.py} h
  for h in "$HOME1" "$HOME2"; do
    if [ -e "$h/node-runs/$id" ]; then find "$h/node-runs/$id" -maxdepth 3; fail "node files of $id left in $h"; fi
  done
  if grep -q "node-runs/$id" /proc/mounts; then grep "node-runs/$id" /proc/mounts; fail "mounts of $id left on a host"; fi
  assert_nothing_left "$id" "$marker"
}

