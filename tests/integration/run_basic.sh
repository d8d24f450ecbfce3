# envpack run on one node (root, runc): inputs and outputs in the record, 127 before anything
# starts, the job's exit code, limits.timeout -> 124, two runs at once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.bash"
make_busybox_image
job="$SCRATCH/job"; mkdir -p "$job/src" "$job/data"
echo "hello from the input" > "$job/data/hello.txt"
echo 'echo from the snapshot' > "$job/src/hi.sh"

# 1. ro_mount input, ./outputs/model/ and a named output, all in the record.
cat > "$job/io.yaml" <<'YAML'
code: ./src
command: >-
  mkdir -p outputs/model &&
  cat ${{inputs.data}}/hello.txt > outputs/model/weights.txt &&
  echo named > ${{outputs.result}}/r.txt &&
  if touch ${{inputs.data}}/x 2>/dev/null; then echo INPUT-WRITABLE; exit 9; fi &&
  sh hi.sh && echo "job done"
environment: {image: it/bb:1}
inputs:
  data: {type: uri_folder, path: ./data, mode: ro_mount}
outputs:
  result: {type: uri_folder}
YAML
expect_exit 0 "$ENVPACK" run "$job/io.yaml"
id=$(last_run); rec="$ENVPACK_HOME/runs/$id"
grep -q "job done" "$SCRATCH/out" || fail "the job's output is not on the console"
grep -q "from the snapshot" "$rec/logs/main.log" || fail "main.log misses the output"
[ "$(cat "$rec/outputs/model/weights.txt")" = "hello from the input" ] || fail "outputs/model missing"
[ "$(cat "$rec/outputs/result/r.txt")" = named ] || fail "named output missing"
[ ! -e "$job/data/x" ] || fail "the ro_mount input was written"
s=$(status_of "$id")
[ "$(echo "$s" | jfield phase)" = finished ] || fail "phase: $s"
[ "$(echo "$s" | jfield exit_code)" = 0 ] || fail "exit code: $s"
echo "$s" | jfield image digest | grep -q '^sha256:' || fail "no image digest: $s"
echo "$s" | jfield snapshot digest | grep -q '^sha256:' || fail "no snapshot digest: $s"
[ -f "$rec/job.yaml" ] || fail "no job.yaml in the record"
"$ENVPACK" runs | grep -q "$id" || fail "envpack runs does not list $id"
"$ENVPACK" logs "$id" | grep -q "job done" || fail "envpack logs"
assert_nothing_left "$id"

# 2. A command that is not in the image: 127, nothing started.
cat > "$job/missing.yaml" <<'YAML'
command: no-such-program --flag
environment: {image: it/bb:1}
YAML
expect_exit 127 "$ENVPACK" run "$job/missing.yaml"
grep -q "no-such-program" "$SCRATCH/err" || fail "127 without naming the program"
id=$(last_run)
[ "$(status_of "$id" | jfield exit_code)" = 127 ] || fail "status of the 127 run"
[ "$(status_of "$id" | jfield started_at)" = "" ] || fail "the 127 run started"
assert_nothing_left "$id"

# 3. The process exits 3: so does envpack run.
cat > "$job/three.yaml" <<'YAML'
command: echo failing; exit 3
environment: {image: it/bb:1}
YAML
expect_exit 3 "$ENVPACK" run "$job/three.yaml"
assert_nothing_left "$(last_run)"

# 4. limits.timeout ends a hanging job with 124.
cat > "$job/hang.yaml" <<'YAML'
command: sleep 4711
environment: {image: it/bb:1}
limits: {timeout: 1}
YAML
start=$(date +%s)
expect_exit 124 "$ENVPACK" run "$job/hang.yaml"
[ $(( $(date +%s) - start )) -lt 30 ] || fail "the timeout took too long"
id=$(last_run)
[ "$(status_of "$id" | jfield reason)" = timeout ] || fail "reason: $(status_of "$id")"
assert_nothing_left "$id" "sleep 4711"

# 5. Two runs at once do not collide.
cat > "$job/pair.yaml" <<'YAML'
command: sleep 1; echo $HOSTNAME > outputs/who.txt
environment: {image: it/bb:1}
YAML
"$ENVPACK" run "$job/pair.yaml" > "$SCRATCH/a.out" 2>&1 & a=$!
"$ENVPACK" run "$job/pair.yaml" > "$SCRATCH/b.out" 2>&1 & b=$!
wait $a || { cat "$SCRATCH/a.out"; fail "first of two runs failed"; }
wait $b || { cat "$SCRATCH/b.out"; fail "second of two runs failed"; }
ids=$(ls "$ENVPACK_HOME/runs" | sort | tail -n 2)
[ "$(echo "$ids" | sort -u | wc -l)" = 2 ] || fail "two runs, one ID"
for id in $ids; do
  [ -f "$ENVPACK_HOME/runs/$id/outputs/who.txt" ] || fail "run $id lost its output"
  [ "$(status_of "$id" | jfield exit_code)" = 0 ] || fail "run $id: $(status_of "$id")"
  assert_nothing_left "$id"
done
# An environment that is neither an image reference nor a recipe: 125, located in the job file.
printf 'command: /bin/true\nenvironment: "Not A Ref!"\n' > "$job/badenv.yaml"
expect_exit 125 "$ENVPACK" run "$job/badenv.yaml"
grep -q "badenv.yaml:2:14: \`Not A Ref!\` is neither a base recipe nor an image reference" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "bad environment message"; }

# Under sudo, the record belongs to the user behind it (SUDO_UID/SUDO_GID), outputs included.
SUDO_UID=65534 SUDO_GID=65534 expect_exit 0 "$ENVPACK" run "$job/io.yaml"
rec="$ENVPACK_HOME/runs/$(last_run)"
for f in "$rec" "$rec/status.json" "$rec/logs/main.log" "$rec/outputs/model/weights.txt" "$rec/outputs/result/r.txt"; do
  [ "$(stat -c %u:%g "$f")" = 65534:65534 ] || fail "$f is owned by $(stat -c %u:%g "$f"), not SUDO_UID:SUDO_GID"
done
echo "run_basic: ok"
