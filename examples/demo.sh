#!/bin/bash
# envpack's walkthrough: Azure ML's "train TensorFlow models at scale" guide, on this machine and
# offline (Debian's archive is the only network it uses, for the base image):
#   1. the base image (the guide's curated image) from base-images/debian12-openmpi4-python.yaml;
#   2. an offline conda channel made from Debian's python3.11, numpy and mpi4py;
#   3. the environment (Environment.from_conda_specification): conda_dependencies.yml locked (conda
#      and pip) and built on the base, pushed to a local registry that is the next run's build cache;
#   4. the code snapshot (.amlignore honoured);
#   5. the MPI job (MpiConfiguration): 2 nodes x 2 processes, gradients allreduced every step;
#   6. the TF_CONFIG job (TensorflowConfiguration): 2 workers and a parameter server;
#   7. where the model, logs and run records are, and what each phase took.
# Everything is kept in DEMO_DIR (default build/demo): a second run reuses every cache and says so.
# The jobs need root (runc, network namespaces); without it the demo stops after phase 4.
set -euo pipefail
ENVPACK=$(realpath "${ENVPACK:-build/cli/envpack}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(realpath -m "${DEMO_DIR:-build/demo}")
epochs=${DEMO_EPOCHS:-10}
mkdir -p "$work"
export ENVPACK_HOME="$work/home"
registry_pid=""
trap '[ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; true' EXIT

now_ms() { echo $(( ${EPOCHREALTIME//[.,]/} / 1000 )); }
secs() { printf '%d.%d' $(( $1 / 1000 )) $(( $1 % 1000 / 100 )); }
start_all=$(now_ms)
cold=0
phase_names=(); phase_times=(); phase_start=0; n_phase=0
# phase SHORT LONG: starts phase SHORT (the timing table's name), printing LONG.
phase() {
  finish_phase
  n_phase=$((n_phase + 1)); phase_names+=("$1"); phase_start=$(now_ms)
  printf '\n[%d/7] %s\n' "$n_phase" "$2"
}
finish_phase() {
  if [ "$phase_start" != 0 ]; then phase_times+=($(( $(now_ms) - phase_start ))); phase_start=0; fi
}
say() { printf '      %s\n' "$*"; }

printf 'envpack walkthrough: conda file -> base image -> environment image -> registry -> MPI and TF_CONFIG training on two nodes -> model\n'
printf '      work dir %s (ENVPACK_HOME=%s)\n' "$work" "$ENVPACK_HOME"

# 1. The base image: built by mmdebstrap from Debian's archive the first time, a cache hit after.
phase "base image" "Base image: base-images/debian12-openmpi4-python.yaml (Debian 12, OpenMPI 4)"
say "found by its build key, or built by mmdebstrap from Debian's archive (the first time: a few minutes)"
t0=$(now_ms)
"$ENVPACK" base build "$root/base-images/debian12-openmpi4-python.yaml" --lock "$work/base.lock" --json \
  > "$work/base.json" 2> "$work/base.err" || { cat "$work/base.err"; exit 1; }
base_ref=$(jq -r .reference "$work/base.json")
base_digest=$(jq -r .digest "$work/base.json")
if [ "$(jq -r .cached "$work/base.json")" = true ]; then
  say "cached: $base_ref $base_digest (build key unchanged; mmdebstrap did not run)"
else
  say "built by mmdebstrap in $(secs $(( $(now_ms) - t0 ))) s: $base_ref $base_digest"
  cold=1
fi
say "layers: $(jq -r '[.layers[] | "\(.name) \(.size / 1000000 | floor) MB"] | join(", ")' "$work/base.json")"

# 2. The conda channel, made from Debian's packages (deterministic: made again only when they change).
phase "conda channel" "Offline conda channel: python, numpy, mpi4py, openmpi repackaged from Debian (channel/make-channel)"
code="$work/digits"
mkdir -p "$code"
cp "$here/digits/train.py" "$here/digits/conda_dependencies.yml" "$here/digits/job-mpi.yaml" \
  "$here/digits/job-tf.yaml" "$here/digits/.amlignore" "$code/"
stamp=$( (sha256sum "$here/digits/channel/make-channel"; "$ENVPACK" --version; dpkg-query -W python3.11-minimal \
  libpython3.11-stdlib python3-numpy python3-mpi4py libopenmpi3 2>/dev/null) | sha256sum | cut -c1-16)
if [ -f "$code/channel/.made-$stamp" ]; then
  say "cached: $code/channel (Debian's packages and make-channel unchanged)"
else
  rm -rf "$code/channel"
  t0=$(now_ms)
  "$here/digits/channel/make-channel" "$code/channel" --envpack "$ENVPACK" > "$work/channel.log" 2>&1 \
    || { cat "$work/channel.log"; exit 1; }
  touch "$code/channel/.made-$stamp"
  say "made and indexed in $(secs $(( $(now_ms) - t0 ))) s (log: $work/channel.log)"
fi
(cd "$code/channel/linux-64" && ls -- *.conda) | sed 's/^/      /'

# 3. The environment, locked and built on the base, pushed to a local registry (the build cache).
phase "environment" "Environment: envpack build -f conda_dependencies.yml --base $base_ref --push (Environment.from_conda_specification)"
port=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
mkdir -p "$work/registry"
cat > "$work/registry/config.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry/data}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/registry/config.yml" > "$work/registry/log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/v2/" > /dev/null && break; sleep 0.1; done
say "registry: Debian's docker-registry on 127.0.0.1:$port (data kept in $work/registry/data)"
"$ENVPACK" build -f "$code/conda_dependencies.yml" --base "$base_ref" --lock "$work/conda-lock.yml" \
  -t digits/env:1 --push "127.0.0.1:$port/digits/env:1" --json > "$work/env.json" 2> "$work/env.err" \
  || { cat "$work/env.err"; exit 1; }
say "lock $work/conda-lock.yml: $(jq -r .lock.action "$work/env.json"); $(grep -c '^  manager: conda' "$work/conda-lock.yml") conda + $(grep -c '^  manager: pip' "$work/conda-lock.yml") pip packages:"
/usr/bin/python3 - "$work/conda-lock.yml" <<'PY'
import sys, yaml
pkgs = yaml.safe_load(open(sys.argv[1]))["package"]
print("      " + ", ".join(f"{p['name']} {p['version']}" + (" (pip)" if p["manager"] == "pip" else "") for p in pkgs))
PY
jq -r '"      image digits/env:1 \(.digest): " + (if .cached_remote then "from the registry build cache"
  elif .cached then "cached in the local store (build key unchanged)"
  else "built, \(.layers_written) layers written, \(.layers_reused) reused" end)' "$work/env.json"
say "pushed to 127.0.0.1:$port/digits/env:1"

# 4. The code snapshot.
phase "snapshot" "Code snapshot: $code (.amlignore keeps the channel and outputs out)"
"$ENVPACK" snapshot "$code" --json > "$work/snapshot.json"
jq -r '"      \(.digest): \(.files) files, \(.bytes) bytes: " + ([.largest[].path] | join(", "))' "$work/snapshot.json"

if [ "$(id -u)" != 0 ] || ! command -v runc > /dev/null; then
  finish_phase
  printf '\nThe jobs need root and runc (containers, network namespaces); stopping here.\n'
  exit 0
fi

# run_job FILE NAME: runs the job, condensing its output to one line per fact; sets run_id, record.
run_job() {
  local out="$work/$2.out"
  t0=$(now_ms)
  "$ENVPACK" run "$1" --set "inputs.epochs.value=$epochs" > "$out" 2>&1 || { cat "$out"; exit 1; }
  run_id=$(sed -n 's/^run \([^ ]*\) (record: .*/\1/p' "$out" | head -n 1)
  record="$ENVPACK_HOME/runs/$run_id"
  sed -n 's/^envpack: run [^:]*: \(image .*\)/      \1/p' "$out"
  /usr/bin/python3 - "$out" <<'PY'
import re, sys
lines = [re.sub(r"^\[[^]]*\] ", "", l.rstrip("\n")) for l in open(sys.argv[1])]
conda = [l for l in lines if l.startswith("conda environment ")]
py = sorted({l.split(",")[0] for l in lines if l.startswith("python /")})
print(f"      {len(conda)} processes on the conda environment: {', '.join(py)} ({sum(l.endswith(': yes') for l in conda)} checked)")
for l in sorted(l for l in lines if re.match(r"^(rank|worker) \d+: \d+ examples", l)):
    print("      " + l)
epochs = {}
for l in lines:
    m = re.match(r"^(rank|worker) (\d+) epoch (\d+): loss \S+ test accuracy (\S+) \((\d+)", l)
    if m:
        kind = m[1]
        epochs.setdefault(int(m[3]), {})[int(m[2])] = (m[4], m[5])
for e in sorted(epochs):
    who = epochs[e]
    accs = " ".join(who[k][0] for k in sorted(who))
    print(f"      epoch {e:2d}: test accuracy {accs} ({kind}s {','.join(map(str, sorted(who)))}), "
          f"{max(int(v[1]) for v in who.values())} exchanges so far")
for l in lines:
    if l.startswith(("weights identical", "ps 0: ", "final test accuracy")) and "listening" not in l and "is done" not in l:
        print("      " + l)
PY
  say "run $run_id finished in $(secs $(( $(now_ms) - t0 ))) s; record $record"
  local acc
  acc=$(sed -n 's/^.*final test accuracy: \([0-9.]*\)$/\1/p' "$out" | tail -n 1)
  if [ "$epochs" -ge 10 ] && ! awk -v a="${acc:-0}" 'BEGIN { exit !(a > 0.9) }'; then
    echo "demo: final accuracy ${acc:-missing} is not above 0.9 after $epochs epochs (log: $out)" >&2; exit 1
  fi
}

# 5. MPI: 2 nodes x 2 processes.
phase "MPI job" "MPI job: 2 nodes x 2 processes, Horovod style (envpack run job-mpi.yaml)"
run_job "$code/job-mpi.yaml" mpi
mpi_record=$record

# 6. TF_CONFIG: 2 workers + 1 parameter server.
phase "TF_CONFIG job" "TF_CONFIG job: 2 workers + 1 parameter server (envpack run job-tf.yaml)"
run_job "$code/job-tf.yaml" tf
tf_record=$record

# 7. Where things are, and the time each phase took.
phase "results" "Results: the model, logs and run records"
say "model (MPI run):  $mpi_record/outputs/model/ ($(cd "$mpi_record/outputs/model" && ls | tr '\n' ' '))"
say "model (TF run):   $tf_record/outputs/model/"
say "logs (MPI run):   $mpi_record/logs/mpirun.log and one stdout/stderr per rank:"
(cd "$mpi_record" && find . -path '*/rank.*/stdout' | sort | sed 's|^\./|        |')
say "logs (TF run):    $tf_record/logs/ ($(cd "$tf_record/logs" && ls | tr '\n' ' '))"
say "run records:      envpack runs (ENVPACK_HOME=$ENVPACK_HOME); each record has job.yaml, status.json, logs/, outputs/"
finish_phase
total=$(( $(now_ms) - start_all ))
printf '\nTime per phase:\n'
for i in "${!phase_names[@]}"; do printf '  %6s s  %s\n' "$(secs "${phase_times[$i]}")" "${phase_names[$i]}"; done
printf '  %6s s  in all\n' "$(secs "$total")"
if [ "$cold" = 1 ]; then
  echo "$total" > "$work/.first-run-ms"
elif [ -f "$work/.first-run-ms" ]; then
  first=$(cat "$work/.first-run-ms")
  printf '\nEvery cache answered: this run took %s s, the first (which built the base image) %s s: %s.%sx faster.\n' \
    "$(secs "$total")" "$(secs "$first")" "$(( first / total ))" "$(( first * 10 / total % 10 ))"
fi
printf '\ndemo ok\n'
