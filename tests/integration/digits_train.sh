#!/usr/bin/env bash
# The walkthrough's training (examples/digits, issue 16), reduced: train.py on the host, single
# process, for the accuracy baseline; then job-mpi.yaml (2 nodes x 2 ranks, allreduce) and
# job-tf.yaml (2 workers + 1 ps over TCP) through `envpack run` with fewer epochs. Each run: final
# accuracy > 0.85, every rank/worker logged its shard with the right size, exchanges counted,
# identical weight digests everywhere, the model in the record's outputs/model, nothing left.
# The jobs run on the walkthrough's conda environment: the offline channel made from Debian's
# packages (channel/make-channel) and conda_dependencies.yml (with its pip list) built on demand on
# the small base image (the base_image fixture, base-image.env, read by run_multi_lib.bash); every
# rank checks that its python and numpy are the environment's, under /opt/conda.
source "$(dirname "$0")/lib.sh"
DATA=/usr/lib/python3/dist-packages/sklearn/datasets/data
[ -f "$DATA/digits.csv.gz" ] || skip "no $DATA/digits.csv.gz (install python3-sklearn)"
SRC="$ENVPACK_SOURCE_DIR/examples/digits"
N_TRAIN=1438  # 1,797 digits less the 20% test split (359)

# Final accuracy line in file $1 above $2.
accuracy_above() {
  local acc
  acc=$(sed -n 's/^.*final test accuracy: \([0-9.]*\)$/\1/p' "$1" | tail -n 1)
  [ -n "$acc" ] || { cat "$1"; fail "no final accuracy in $1"; }
  echo "final test accuracy: $acc"
  [ "$(echo "$acc > $2" | bc)" = 1 ] || { cat "$1"; fail "accuracy $acc is not above $2"; }
}
# The shard sizes of N parts of N_TRAIN (numpy.array_split): the first N_TRAIN % N get one more.
shard_size() { echo $((N_TRAIN / $2 + ($1 < N_TRAIN % $2 ? 1 : 0))); }

# 0. Single process on the host (no envpack): the baseline.
if /usr/bin/python3 -c 'import numpy' 2> /dev/null; then
  mkdir -p "$SCRATCH/single"
  (cd "$SCRATCH/single" && /usr/bin/python3 "$SRC/train.py" --data-folder "$DATA" --epochs 5) \
    > "$SCRATCH/single.out" 2>&1 || { cat "$SCRATCH/single.out"; fail "single-process run failed"; }
  accuracy_above "$SCRATCH/single.out" 0.9
  grep -q "single process: $N_TRAIN training examples" "$SCRATCH/single.out" || fail "single: the split"
  [ -f "$SCRATCH/single/outputs/model/weights.npz" ] && [ -f "$SCRATCH/single/outputs/model/model.json" ] ||
    fail "single: no model saved"
else
  skip_part "no numpy on the host for the single-process baseline"
fi

source "$(dirname "$0")/run_multi_lib.bash"
# The example as a user has it: a copy of the folder, its channel made in place.
EX="$SCRATCH/digits"
cp -r "$SRC" "$EX"
"$EX/channel/make-channel" "$EX/channel" --envpack "$ENVPACK" > "$SCRATCH/channel.out" 2>&1 \
  || { cat "$SCRATCH/channel.out"; fail "make-channel"; }
# The code snapshot is train.py and the job files: .amlignore keeps channel/ and outputs/ out.
"$ENVPACK" snapshot "$EX" --list > "$SCRATCH/snap.list"
grep -qx train.py "$SCRATCH/snap.list" || { cat "$SCRATCH/snap.list"; fail "train.py not in the snapshot"; }
if grep -E '^(channel|outputs|__pycache__)/' "$SCRATCH/snap.list"; then fail "junk in the snapshot"; fi
# The jobs name the base image by its reference; should the fixture's differ, it is set.
over=(--set inputs.epochs.value=6)
[ "$IMAGE" = envpack/debian12-openmpi4-python:1 ] || over+=(--set "environment.image=$IMAGE")
# conda_env_checked LOG N: N processes logged their python and numpy as the conda environment's.
conda_env_checked() {
  local n y
  n=$(grep -c "^python /opt/conda/bin/python[0-9.]*, numpy [0-9.]* from /opt/conda/lib/python3.11/site-packages/numpy/__init__.py$" "$1" || true)
  y=$(grep -c "^conda environment /opt/conda: yes$" "$1" || true)
  [ "$n" -ge "$2" ] && [ "$y" -ge "$2" ] || { cat "$1"; fail "$1: $n of $2 processes on the conda python and numpy ($y checked)"; }
}

# 1. MPI: 2 nodes x 2 ranks, gradients allreduced every step.
start=$(date +%s.%N)
expect_exit 0 "$ENVPACK" run "$EX/job-mpi.yaml" "${over[@]}"
echo "digits MPI 2x2: $(echo "$(date +%s.%N) - $start" | bc) s"
id=$(last_run); rec="$ENVPACK_HOME/runs/$id"
# An mpi run's record keeps one log, mpirun's, with every rank's lines (no per-rank files yet).
log="$rec/logs/mpirun.log"
accuracy_above "$log" 0.85
conda_env_checked "$log" 4
digests=()
for r in 0 1 2 3; do
  grep -q "^rank $r: $(shard_size $r 4) examples of $N_TRAIN " "$log" || { cat "$log"; fail "rank $r: no shard line"; }
  line=$(grep "^rank $r: [0-9]* gradient exchanges (allreduce), weights digest " "$log") ||
    { cat "$log"; fail "rank $r: no exchange count"; }
  n=$(echo "$line" | awk '{print $3}')
  [ "$n" -gt 0 ] || fail "rank $r: $n exchanges"
  digests+=("$(echo "$line" | awk '{print $NF}')")
done
[ "$(printf '%s\n' "${digests[@]}" | sort -u | wc -l)" = 1 ] || fail "the ranks' digests differ: ${digests[*]}"
grep -q "weights identical on all 4 ranks: yes" "$log" || fail "rank 0 did not confirm equal weights"
[ -f "$rec/outputs/model/weights.npz" ] || fail "no outputs/model/weights.npz in the record"
[ "$(jq -r .digest "$rec/outputs/model/model.json")" = "${digests[0]}" ] || fail "the saved model is not the trained one"
[ "$(jq -r .mode "$rec/outputs/model/model.json")" = mpi ] || fail "model.json: $(cat "$rec/outputs/model/model.json")"
assert_nothing_left "$id" "train.py"

# 2. TF_CONFIG: 2 workers + 1 ps, synchronous parameter server over TCP.
start=$(date +%s.%N)
expect_exit 0 "$ENVPACK" run "$EX/job-tf.yaml" "${over[@]}"
echo "digits TF 2 workers + ps: $(echo "$(date +%s.%N) - $start" | bc) s"
id=$(last_run); rec="$ENVPACK_HOME/runs/$id"
accuracy_above "$rec/logs/worker-0.log" 0.85
for t in worker-0 worker-1 ps-0; do conda_env_checked "$rec/logs/$t.log" 1; done
digests=()
for w in 0 1; do
  log="$rec/logs/worker-$w.log"
  grep -q "^worker $w: $(shard_size $w 2) examples of $N_TRAIN " "$log" || { cat "$log"; fail "worker $w: no shard line"; }
  line=$(grep "^worker $w: [0-9]* gradient/parameter exchanges with the ps, weights digest " "$log") ||
    { cat "$log"; fail "worker $w: no exchange count"; }
  n=$(echo "$line" | awk '{print $3}')
  [ "$n" -gt 0 ] || fail "worker $w: $n exchanges"
  digests+=("$(echo "$line" | awk '{print $NF}')")
done
[ "${digests[0]}" = "${digests[1]}" ] || fail "the workers' digests differ: ${digests[*]}"
ps_log="$rec/logs/ps-0.log"
grep -q "all workers done" "$ps_log" || { cat "$ps_log"; fail "the ps did not see both workers finish"; }
grep -q "weights digest ${digests[0]}" "$ps_log" || { cat "$ps_log"; fail "the ps's weights differ from the workers'"; }
[ "$(jq -r .digest "$rec/outputs/model/model.json")" = "${digests[0]}" ] || fail "the saved model is not the trained one"
assert_nothing_left "$id" "train.py"
echo "digits_train: ok"
