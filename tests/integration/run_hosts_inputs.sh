#!/usr/bin/env bash
# envpack.hosts with local inputs (launcher/hosts_inputs.h): a job on two "hosts" (network
# namespaces with their own ENVPACK_HOMEs, run_hosts_lib.bash) with a folder input (ro_mount), a
# uri_file input and a download input. The transport hides the launching machine's input folder
# on the hosts (a tmpfs over it in each host's own mount namespace), so a node that used the
# launcher's path instead of its host's copy could not start: each node's process checks every
# file it reads, that its ro_mount comes from its own host's input cache (mountinfo) and is
# read-only, and that its download copy is writable without touching the cache. The second run
# sends 0 input bytes to either host (hosts.json, and the line envpack prints) and reads no input
# file here (the digest memo); a changed file sends that input alone again. Bad inputs (a symlink out of the input, an absolute symlink, a
# missing path, a fifo) fail with 125 naming the input before any host is contacted, leaving
# nothing on either host.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_multi_lib.bash"
source "$(dirname "$0")/run_hosts_lib.bash"
need unshare

# ---- the launcher's inputs, hidden from the hosts ----------------------------------------------
data=$SCRATCH/data
mkdir -p "$data/digits/sub" "$data/digits/empty" "$data/dl"
printf 'alpha\n' > "$data/digits/a.txt"
head -c 300000 /dev/urandom > "$data/digits/sub/blob.bin"
printf '#!/bin/sh\necho hi\n' > "$data/digits/sub/run.sh"; chmod 755 "$data/digits/sub/run.sh"
chmod 600 "$data/digits/a.txt"  # the container's user reads it anyway: modes are normalised
ln -s sub/blob.bin "$data/digits/link"
printf '1,2\n3,4\n' > "$data/labels.csv"
printf 'weights v1\n' > "$data/dl/model.txt"

mkdir -p "$SCRATCH/hide"
cat > "$SCRATCH/hide/netns-exec" <<SH
#!/bin/sh
# ip netns exec HOST, with $data hidden from everything that runs there.
host=\$1; shift
exec ip netns exec "\$host" unshare -m --propagation private \\
  sh -c 'mount -t tmpfs -o size=1m hidden "\$0" && exec "\$@"' "$data" "\$@"
SH
chmod +x "$SCRATCH/hide/netns-exec"
ip netns exec "$NS2" unshare -m --propagation private sh -c "mount -t tmpfs none '$data' && [ ! -e '$data/labels.csv' ]" \
  || fail "the transport cannot hide $data"

# The tree walk both sides compare: here for what was sent, in each node for what it reads.
cat > "$job/src/treewalk.py" <<'PY'
import os
# Every entry under TOP by relative path: a link's target, "dir", or a file's bytes in hex.
def tree(top):
    out = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, top)
            if os.path.islink(p):
                out[rel] = "-> " + os.readlink(p)
            elif os.path.isdir(p):
                out[rel] = "dir"
            else:
                out[rel] = open(p, "rb").read().hex()
    return out
PY
python3 - "$data" "$job/src" > "$job/src/expected.json" <<'PY'
import json, sys
root = sys.argv[1]
sys.path.insert(0, sys.argv[2])
sys.dont_write_bytecode = True  # nothing new in the job's code
from treewalk import tree
print(json.dumps({"digits": tree(f"{root}/digits"), "dl": tree(f"{root}/dl"),
                  "labels": open(f"{root}/labels.csv").read()}))
PY
cat > "$job/src/inputs_check.py" <<'PY'
import errno, json, os, sys
node = int(os.environ["NODE_RANK"])
home = os.environ["HOME_NAMES"].split(",")[node]
digits, labels, dl = sys.argv[1:4]
want = json.load(open("expected.json"))
from treewalk import tree
assert tree(digits) == want["digits"], ("digits", sorted(tree(digits)), sorted(want["digits"]))
assert os.access(f"{digits}/sub/run.sh", os.X_OK)
assert open(labels).read() == want["labels"], open(labels).read()
assert tree(dl) == want["dl"], tree(dl)
# The ro_mount is this host's cached copy, read-only.
mounts = {l.split()[4]: l.split() for l in open("/proc/self/mountinfo")}
for point in (digits, labels):
    root = mounts[point][3]
    assert "/inputs/sha256/" in root and root.split("/inputs/sha256/")[0].endswith("/" + home), (point, root, home)
try:
    open(f"{digits}/new.txt", "w")
    sys.exit("the ro_mount input is writable")
except OSError as e:
    assert e.errno in (errno.EROFS, errno.EACCES), e
# The download input is the node's own copy: writable.
with open(f"{dl}/model.txt", "a") as f:
    f.write("written-by-node\n")
print(f"node {node}: inputs ok ({home})", flush=True)
PY

HOME_NAMES="$(basename "$HOME1"),$(basename "$HOME2")"
write_inputs_job() {  # NAME DIGITS_PATH
  cat > "$job/$1.yaml" <<YAML
code: ./src
command: python3 inputs_check.py \${{inputs.digits}} \${{inputs.labels}} \${{inputs.dl}}
environment: {image: $IMAGE}
environment_variables: {HOME_NAMES: "$HOME_NAMES"}
inputs:
  digits: {type: uri_folder, path: $2, mode: ro_mount}
  labels: {type: uri_file, path: $data/labels.csv}
  dl: {type: uri_folder, path: $data/dl, mode: download}
resources: {instance_count: 2}
distribution: {type: pytorch, process_count_per_instance: 1}
envpack:
  remote_exec: $SCRATCH/hide/netns-exec
  hosts:
    - {name: $NS1, address: $prefix.2, home: $HOME1, program: $ENVPACK}
    - {name: $NS2, address: $prefix.3, home: $HOME2, program: $ENVPACK}
YAML
}
hosts_json() { cat "$ENVPACK_HOME/runs/$1/hosts.json"; }
field() { jq -r ".[] | select(.host == \"$2\") | .$3" "$ENVPACK_HOME/runs/$1/hosts.json"; }
assert_caches_clean() {
  local h
  for h in "$HOME1" "$HOME2"; do
    if [ -d "$h/inputs" ] && find "$h/inputs" -name '.tmp-*' | grep -q .; then
      find "$h/inputs" -maxdepth 2; fail "temporary input files left in $h/inputs"
    fi
    if grep -rq written-by-node "$h/inputs" 2>/dev/null; then fail "a node's write reached $h's input cache"; fi
  done
}

# 1. First run: every host receives the three inputs and each node checks them.
write_inputs_job ok "$data/digits"
start=$(date +%s.%N)
expect_exit 0 "$ENVPACK" run "$job/ok.yaml"
echo "inputs on two hosts (first run): $(echo "$(date +%s.%N) - $start" | bc) s"
id=$(last_run)
for n in 0 1; do
  grep -q "node $n: inputs ok" "$SCRATCH/out" || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "node $n did not check its inputs"; }
done
for h in "$NS1" "$NS2"; do
  [ "$(field "$id" "$h" inputs_sent)" = 3 ] || fail "host $h did not get 3 inputs: $(hosts_json "$id")"
  [ "$(field "$id" "$h" input_bytes_sent)" -gt 300000 ] || fail "host $h: too few input bytes: $(hosts_json "$id")"
  grep -q "host $h: sent 3 inputs ([0-9]* bytes), 0 already there" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "the input count for $h is not printed"; }
done
first_bytes=$(field "$id" "$NS2" input_bytes_sent)
echo "input bytes sent to host 2, first run: $first_bytes"
[ "$(ls "$HOME2/inputs/sha256" | wc -l)" = 3 ] || { ls -la "$HOME2/inputs/sha256"; fail "host 2's input cache does not hold 3 inputs"; }
# The launcher remembers the three digests (by stat fingerprint): the next run reads no file.
[ "$(ls "$ENVPACK_HOME/inputs/digests" | wc -l)" = 3 ] || { ls -la "$ENVPACK_HOME/inputs/digests"; fail "no digest memo"; }
assert_caches_clean
assert_hosts_clean "$id" inputs_check.py

# 2. Second run: both hosts have every input; nothing is sent.
expect_exit 0 "$ENVPACK" run "$job/ok.yaml"
id=$(last_run)
grep -c "inputs ok" "$SCRATCH/out" | grep -qx 2 || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "second run"; }
for h in "$NS1" "$NS2"; do
  [ "$(field "$id" "$h" inputs_sent)" = 0 ] && [ "$(field "$id" "$h" input_bytes_sent)" = 0 ] \
    && [ "$(field "$id" "$h" inputs_present)" = 3 ] || fail "the second run sent inputs to $h: $(hosts_json "$id")"
  grep -q "host $h: sent 0 inputs (0 bytes), 3 already there" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "no 0-inputs line for $h"; }
done
echo "input bytes sent to host 2, second run: $(field "$id" "$NS2" input_bytes_sent)"
assert_hosts_clean "$id" inputs_check.py

# 3. One file changed: that input alone travels again (its content is its key, not its name).
printf 'alpha, changed\n' > "$data/digits/a.txt"
python3 - "$data" "$job/src/expected.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[2]))
e["digits"]["a.txt"] = b"alpha, changed\n".hex()
json.dump(e, open(sys.argv[2], "w"))
PY
expect_exit 0 "$ENVPACK" run "$job/ok.yaml"
id=$(last_run)
grep -c "inputs ok" "$SCRATCH/out" | grep -qx 2 || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "third run"; }
[ "$(field "$id" "$NS2" inputs_sent)" = 1 ] && [ "$(field "$id" "$NS2" inputs_present)" = 2 ] \
  || fail "a changed input: $(hosts_json "$id")"
[ "$(ls "$ENVPACK_HOME/inputs/digests" | wc -l)" = 4 ] || fail "the changed input was not digested again"
assert_caches_clean
assert_hosts_clean "$id" inputs_check.py

# 4. Bad inputs: 125 naming the input, before any host is contacted; nothing left anywhere.
bad_input() {  # NAME PATH EXPECTED_MESSAGE
  write_inputs_job "$1" "$2"
  before=$(ls "$HOME2/inputs/sha256" | wc -l)
  expect_exit 125 "$ENVPACK" run "$job/$1.yaml"
  grep -qF "input \`digits\`: $3" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "$1: the error does not name the input and the cause"; }
  local bid; bid=$(last_run)
  [ ! -e "$ENVPACK_HOME/runs/$bid/remote" ] || { ls "$ENVPACK_HOME/runs/$bid/remote"; fail "$1: a host was contacted"; }
  [ "$(ls "$HOME2/inputs/sha256" | wc -l)" = "$before" ] || fail "$1: something reached host 2's cache"
  assert_caches_clean
  assert_hosts_clean "$bid" inputs_check.py
}
mkdir -p "$SCRATCH/bad1" "$SCRATCH/bad2" "$SCRATCH/bad3"
echo x > "$SCRATCH/bad1/ok.txt"; ln -s ../../etc/passwd "$SCRATCH/bad1/escape"
bad_input escape "$SCRATCH/bad1" "the symlink \`escape\` -> \`../../etc/passwd\` points outside the input"
ln -s "$data/labels.csv" "$SCRATCH/bad2/abs"
bad_input absolute "$SCRATCH/bad2" "the symlink \`abs\` -> \`$data/labels.csv\` is absolute"
bad_input missing "$SCRATCH/no-such-folder" "$SCRATCH/no-such-folder does not exist"
mkfifo "$SCRATCH/bad3/pipe"
bad_input fifo "$SCRATCH/bad3" "\`pipe\` is a fifo, not a file, folder or symlink"
echo "run_hosts_inputs: ok"
