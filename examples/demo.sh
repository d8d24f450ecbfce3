#!/bin/bash
# The main job, as far as it goes today, offline and fast:
#   1. make a tiny root filesystem (busybox) and import it into the local OCI store;
#   2. list and inspect it, export it for `docker load`;
#   3. show that a second, fresh store gets the bit-identical image;
#   4. snapshot the example training source (ignore files honoured);
#   5. make a local conda channel, index it, lock conda_dependencies.yml against it (conda
#      semantics, libsolv) and build the environment image on the base (one layer per package);
#      a second build is a cache hit;
#   5b. show the plan of a 2-node MPI job (--dry-run), then run a one-node job in the image
#      with `envpack run` (root and runc): input mounted read-only, outputs in the run record;
#   6. push the image to a local registry (Debian's docker-registry on a free port) and pull it
#      back into a fresh store, with the same digest.
set -euo pipefail
ENVPACK=$(realpath "${ENVPACK:-build/cli/envpack}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(realpath -m "${DEMO_DIR:-build/demo}")
rm -rf "$work"; mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
export ENVPACK_HOME="$work/home"
registry_pid=""
trap '[ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; true' EXIT
step() { printf '\n== %s\n' "$*"; }

cp /bin/busybox "$work/rootfs/bin/busybox"
for tool in sh echo ls cat env uname; do ln -s busybox "$work/rootfs/bin/$tool"; done
printf 'NAME="envpack demo"\nID=envpack-demo\n' > "$work/rootfs/etc/os-release"

step "envpack import rootfs -t demo/base:1"
"$ENVPACK" import "$work/rootfs" -t demo/base:1
step "envpack images"
"$ENVPACK" images
step "envpack inspect demo/base:1"
"$ENVPACK" inspect demo/base:1
step "envpack export demo/base:1 --format docker"
"$ENVPACK" export demo/base:1 -o "$work/demo-base.docker.tar" --format docker
first=$("$ENVPACK" inspect demo/base:1 --json | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["digest"])')
second=$(ENVPACK_HOME="$work/home2" "$ENVPACK" import "$work/rootfs" -t demo/base:1 | cut -d' ' -f2)
step "reproducible: $first (store 1) vs $second (fresh store 2)"
[ "$first" = "$second" ]

step "envpack snapshot src (.amlignore wins over .gitignore; caches and outputs left out)"
cp -r "$here/src" "$work/src"
mkdir -p "$work/src/outputs" "$work/src/__pycache__" "$work/src/data"
head -c 2000000 /dev/zero > "$work/src/data/cache.bin"; echo old > "$work/src/outputs/model.json"
"$ENVPACK" snapshot "$work/src" --list
"$ENVPACK" snapshot "$work/src"

step "envpack index channel (packages made from examples/channel.json)"
/usr/bin/python3 "$here/../tests/fixtures/make_conda_pkg.py" "$here/channel.json" "$work/channel" > /dev/null
"$ENVPACK" index "$work/channel"
cp "$here/conda_dependencies.yml" "$work/conda_dependencies.yml"

step "envpack lock -f conda_dependencies.yml"
"$ENVPACK" lock -f "$work/conda_dependencies.yml"
grep -E '^- name:|^  version:' "$work/conda-lock.yml" | paste - - | sed "s/^- name: /  /; s/ *version: / /; s/'//g"

step "envpack build -f conda_dependencies.yml --base demo/base:1 -t demo/env:1"
"$ENVPACK" build -f "$work/conda_dependencies.yml" --base demo/base:1 -t demo/env:1
"$ENVPACK" inspect demo/env:1
step "envpack build again: the build cache answers"
time_start=$(date +%s%N)
"$ENVPACK" build -f "$work/conda_dependencies.yml" --base demo/base:1 -t demo/env:1 --explain
echo "($(( ($(date +%s%N) - time_start) / 1000000 )) ms)"

step "envpack run --dry-run: the plan of a 2-node x 2-process MPI job (nothing starts)"
cat > "$work/job.yaml" <<'YAML'
code: ./src
command: >-
  /opt/conda/bin/hi &&
  mkdir -p outputs/model &&
  head -c 200 ${{inputs.digits}}/digits.csv > outputs/model/sample.csv &&
  echo "epochs=${{inputs.epochs}}" > ${{outputs.summary}}/run.txt
environment: {image: demo/env:1}
environment_variables: {GREETING: bonjour}
inputs:
  digits: {type: uri_folder, path: ./src/data, mode: ro_mount}
  epochs: 1
outputs:
  summary: {type: uri_folder}
limits: {timeout: 60}
YAML
"$ENVPACK" run "$work/job.yaml" --dry-run --set resources.instance_count=2 \
  --set distribution.type=mpi --set distribution.process_count_per_instance=2 > "$work/plan.txt"
head -n 30 "$work/plan.txt"; echo "... ($(wc -l < "$work/plan.txt") lines: every rank and its environment)"

if [ "$(id -u)" = 0 ] && command -v runc >/dev/null; then
  step "envpack run job.yaml: the job in a container (runc), outputs into the run record"
  "$ENVPACK" run "$work/job.yaml"
  run_id=$("$ENVPACK" runs --json | /usr/bin/python3 -c 'import json,sys;r=json.load(sys.stdin);r=r.get("runs",r) if isinstance(r,dict) else r;print(sorted(x["id"] for x in r)[-1])')
  "$ENVPACK" runs
  record="$ENVPACK_HOME/runs/$run_id"
  echo "record: $record"; (cd "$record" && find outputs -type f | sort)
  [ -s "$record/outputs/model/sample.csv" ] && grep -q epochs=1 "$record/outputs/summary/run.txt"
fi

step "push to a local registry and pull back"
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
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
"$ENVPACK" push demo/env:1 "127.0.0.1:$port/demo/env:1"
built=$("$ENVPACK" inspect demo/env:1 --json | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["digest"])')
pulled=$(ENVPACK_HOME="$work/home3" "$ENVPACK" pull "127.0.0.1:$port/demo/env:1" --json | \
  /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["digest"])')
echo "pulled into a fresh store: $pulled"
[ "$pulled" = "$built" ]
printf '\ndemo ok: store at %s\n' "$ENVPACK_HOME"
