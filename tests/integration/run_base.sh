#!/usr/bin/env bash
# envpack run on the small base image (root, runc, the base_image fixture: base-image.env):
# 1. a python job reads a ro_mount input with numpy, writes ./outputs/model/ and a named output,
#    and they are in the record; the input stays read-only;
# 2. `environment.image` a base recipe: built on demand — here a cache hit of the fixture's build,
#    the same digest, no mmdebstrap;
# 3. `image` + `conda_file`: the conda file locked into ENVPACK_HOME (nothing written into the
#    job's code), built on the base, run; the second run reuses the built image.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.bash"
need /usr/bin/python3
use_base_image
job="$SCRATCH/job"; mkdir -p "$job/src" "$job/data"
/usr/bin/python3 - "$job/data/points.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(50):
        x = i / 10
        f.write(f"{x},{3 * x + 1}\n")
PY
cat > "$job/src/train.py" <<'PY'
import argparse, json, os, sys
import numpy as np
p = argparse.ArgumentParser()
p.add_argument("--data"); p.add_argument("--epochs", type=int); p.add_argument("--metrics")
a = p.parse_args()
xy = np.loadtxt(os.path.join(a.data, "points.csv"), delimiter=",")
A = np.stack([xy[:, 0], np.ones(len(xy))], axis=1)
w, *_ = np.linalg.lstsq(A, xy[:, 1], rcond=None)
try:
    open(os.path.join(a.data, "x"), "w")
    sys.exit("the ro_mount input is writable")
except OSError:
    pass
os.makedirs("outputs/model", exist_ok=True)
np.save("outputs/model/weights.npy", w)
json.dump({"slope": round(float(w[0]), 6), "epochs": a.epochs}, open(os.path.join(a.metrics, "m.json"), "w"))
print(f"fitted slope {w[0]:.3f} intercept {w[1]:.3f} on {len(xy)} points with {sys.executable}")
PY
cat > "$job/train.yaml" <<YAML
\$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
code: ./src
command: python3 train.py --data \${{inputs.data}} --epochs \${{inputs.epochs}} --metrics \${{outputs.metrics}}
environment: $BASE_IMAGE_REF
inputs:
  data: {type: uri_folder, path: ./data, mode: ro_mount}
  epochs: 3
outputs:
  metrics: {type: uri_folder}
YAML
expect_exit 0 "$ENVPACK" run "$job/train.yaml"
id=$(last_run); rec="$ENVPACK_HOME/runs/$id"
grep -q "fitted slope 3.000 intercept 1.000 on 50 points with /usr/bin/python3" "$SCRATCH/out" || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "the job's output"; }
/usr/bin/python3 -c 'import numpy,sys; w=numpy.load(sys.argv[1]); assert abs(w[0]-3)<1e-6, w' "$rec/outputs/model/weights.npy" || fail "outputs/model/weights.npy"
grep -q '"slope": 3.0' "$rec/outputs/metrics/m.json" || fail "named output: $(cat "$rec/outputs/metrics/m.json" 2>&1)"
[ ! -e "$job/data/x" ] || fail "the ro_mount input was written"
[ "$(status_of "$id" | jfield image digest)" = "$BASE_IMAGE_DIGEST" ] || fail "status image digest: $(status_of "$id")"
assert_nothing_left "$id"
echo "1. numpy job on the base image: input read, model and named output in the record ($SECONDS s)"

# 2. The recipe itself as the environment: a cache hit of the fixture's build (same lock beside it).
mkdir -p "$job/recipe"
cp "$ENVPACK_SOURCE_DIR/base-images/debian12-openmpi4-python.yaml" "$job/recipe/"
cp "$BASE_IMAGE_LOCK" "$job/recipe/debian12-openmpi4-python.lock"
printf 'command: python3 -c "import mpi4py; print(\\"recipe env ok\\")"\nenvironment: {image: ./recipe/debian12-openmpi4-python.yaml}\n' > "$job/recipe.yaml"
SOURCE_DATE_EPOCH=$BASE_IMAGE_EPOCH ENVPACK_MMDEBSTRAP=/bin/false expect_exit 0 "$ENVPACK" run "$job/recipe.yaml"
grep -q "recipe env ok" "$SCRATCH/out" || { cat "$SCRATCH/err"; fail "recipe job output"; }
id=$(last_run)
[ "$(status_of "$id" | jfield image digest)" = "$BASE_IMAGE_DIGEST" ] || fail "the recipe did not give the fixture's image: $(status_of "$id")"
echo "2. recipe environment: the fixture's image, no mmdebstrap ($SECONDS s)"

# 3. A base plus a conda file, built on demand and cached.
mkdir -p "$job/conda"
printf '%s' '[{"name": "hello", "version": "1.0", "build": "0", "files": {"bin/hello": {"text": "#!/bin/sh\necho hello from the conda env\n", "mode": 493}}}]' > "$SCRATCH/spec.json"
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$SCRATCH/spec.json" "$job/conda/channel" > /dev/null
"$ENVPACK" index "$job/conda/channel" > /dev/null
printf 'name: hello-env\nchannels: [./channel]\ndependencies: [hello]\n' > "$job/conda/env.yml"
# `envpack build --base RECIPE.yaml` takes the recipe too (and reads its virtual packages label).
SOURCE_DATE_EPOCH=$BASE_IMAGE_EPOCH ENVPACK_MMDEBSTRAP=/bin/false expect_exit 0 "$ENVPACK" build -f "$job/conda/env.yml" --lock "$SCRATCH/b.lock" --base "$job/recipe/debian12-openmpi4-python.yaml" --json
grep -q '"__glibc=2.36"' "$SCRATCH/out" || { cat "$SCRATCH/out"; fail "build --base RECIPE.yaml: the base's label was not read"; }
cat > "$job/conda.yaml" <<YAML
command: /opt/conda/bin/hello && python3 -c "import numpy; print('numpy', numpy.__version__)"
environment:
  image: $BASE_IMAGE_REF
  conda_file: ./conda/env.yml
YAML
expect_exit 0 "$ENVPACK" run "$job/conda.yaml"
grep -q "hello from the conda env" "$SCRATCH/out" || { cat "$SCRATCH/err"; fail "conda job output"; }
grep -q "numpy 1\." "$SCRATCH/out" || fail "the base's numpy is not there"
[ ! -e "$job/conda/conda-lock.yml" ] || fail "a lock was written into the job's code"
compgen -G "$ENVPACK_HOME/locks/*/conda-lock.yml" > /dev/null || fail "no lock under \$ENVPACK_HOME/locks"
grep -q "built from" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "the first run does not say it built the environment"; }
first=$(status_of "$(last_run)" | jfield image digest); echo "   first conda run done ($SECONDS s)"
expect_exit 0 "$ENVPACK" run "$job/conda.yaml"
grep -q "cached from" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "the second run rebuilt the environment"; }
[ "$(status_of "$(last_run)" | jfield image digest)" = "$first" ] || fail "the second run's image differs"
echo "3. base + conda_file: built on demand, locked in ENVPACK_HOME, cached the second time ($SECONDS s)"
