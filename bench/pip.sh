#!/bin/bash
# envpack pip install vs Debian's pip: resolution and installation of ~50 wheels made by
# tests/integration/pip_make_wheels.py bench (a few large native wheels with hundreds of files and
# MBs of .so, some medium ones, many small pure ones; each package depends on 0-4 of the later
# ones, two versions of each) from a --find-links directory into an empty prefix.
#   pip:     pip install --isolated --no-compile --ignore-installed --no-index --find-links DIR --prefix P
#   envpack: envpack pip install --find-links DIR --prefix P
# Each side runs RUNS times (fresh prefix each time, its removal untimed, page cache warm); medians are printed side by
# side with the ratio. The installed trees are compared once (tests/integration/pip_compare.py).
# Then the same list as the `pip:` section of an environment file (with a stub python X.Y from a
# conda channel the bench makes): `envpack lock` (conda solve + pip resolution) and `envpack build
# --frozen` into a fresh image each run (the pip install cache, layer cache and build index
# dropped, untimed): every wheel installed and the pip layers written and gzip-compressed.
set -euo pipefail
ENVPACK=${ENVPACK:-build/cli/envpack}
ENVPACK=$(realpath "$ENVPACK")
N=${N:-50}
RUNS=${RUNS:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export ENVPACK_HOME="$scratch/home"
PYVER=$(/usr/bin/python3 -c 'import sys;print("%d.%d"%sys.version_info[:2])')

tops=$(/usr/bin/python3 "$src/tests/integration/pip_make_wheels.py" bench "$scratch/wheels" "$N")
read -r -a REQS <<<"$tops"
wheels=$(ls "$scratch/wheels" | wc -l)
bytes=$(du -sb "$scratch/wheels" | cut -f1)

run_pip() {
  env $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/-u \1/p') PIP_DISABLE_PIP_VERSION_CHECK=1 \
    /usr/bin/python3 -m pip install --isolated --no-compile --ignore-installed --no-index \
    --no-warn-script-location -q --find-links "$scratch/wheels" --prefix "$scratch/pip" "${REQS[@]}"
}
run_envpack() {
  "$ENVPACK" pip install --find-links "$scratch/wheels" --prefix "$scratch/ep" --python "$PYVER" \
    --interpreter /usr/bin/python3 --json "${REQS[@]}" >"$scratch/ep.json"
}
# median PREFIX CMD...: median wall time of RUNS runs of CMD, each into an emptied PREFIX (the
# removal is not timed).
median() {
  local prefix=$1 times=() t0 t1
  shift
  for _ in $(seq "$RUNS"); do
    rm -rf "$prefix"
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
  done
  printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p"
}

rm -rf "$scratch/ep" "$scratch/pip"
run_envpack && run_pip  # warm-up (and page cache)
installed=$(/usr/bin/python3 -c 'import json,sys;print(len(json.load(open(sys.argv[1]))["packages"]))' "$scratch/ep.json")
files=$(find "$scratch/ep" -type f | wc -l)
same=$(/usr/bin/python3 "$src/tests/integration/pip_compare.py" "$scratch/pip" "$scratch/ep" "$PYVER" | tail -1)

t_pip=$(median "$scratch/pip" run_pip)
t_ep=$(median "$scratch/ep" run_envpack)
split=$(/usr/bin/python3 -c 'import json,sys;d=json.load(open(sys.argv[1]));print("resolve %d ms, install %d ms" % (d["resolve_ms"], d["install_ms"]))' "$scratch/ep.json")
printf 'pip bench: %d wheel files (%s MB), %d packages installed, %d files; %s\n' \
  "$wheels" "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')" "$installed" "$files" "$same"
printf '%-28s %10s\n' "" "seconds"
printf '%-28s %10s\n' "pip $( /usr/bin/python3 -m pip --version | cut -d' ' -f2 ) (--no-index -f)" "$t_pip"
printf '%-28s %10s   (%s)\n' "envpack pip install" "$t_ep" "$split"
printf '%-28s %9sx\n' "speed-up" "$(awk -v a="$t_pip" -v b="$t_ep" 'BEGIN { printf "%.1f", a / b }')"

# The pip layer of envpack build.
mkdir -p "$scratch/env"
cat > "$scratch/channel.json" <<JSON
[{"name": "python", "version": "$PYVER.0", "build": "0", "formats": ["conda"],
  "files": {"bin/python$PYVER": {"mode": 493, "text": "#!/bin/sh\\n"}}, "symlinks": {"bin/python": "python$PYVER"}}]
JSON
/usr/bin/python3 "$src/tests/fixtures/make_conda_pkg.py" "$scratch/channel.json" "$scratch/env/channel" > /dev/null
"$ENVPACK" index "$scratch/env/channel" > /dev/null
{ printf 'name: bench\nchannels: [./channel]\ndependencies:\n  - python=%s\n  - pip:\n' "$PYVER"
  printf '      - --no-index\n      - --find-links %s\n' "$scratch/wheels"
  for r in "${REQS[@]}"; do printf '      - %s\n' "$r"; done; } > "$scratch/env/env.yml"
run_lock() { rm -f "$scratch/env/conda-lock.yml"; "$ENVPACK" lock -f "$scratch/env/env.yml"; }
run_build() { "$ENVPACK" build -f "$scratch/env/env.yml" --frozen -t bench/pip:1 --compression "${COMPRESSION:-gzip}"; }
drop_build_caches() { rm -rf "$ENVPACK_HOME/pip/installed" "$ENVPACK_HOME/layers" "$ENVPACK_HOME/builds"; }
run_lock >/dev/null 2>&1 && drop_build_caches && run_build >/dev/null 2>&1  # warm-up
pip_pkgs=$(grep -c '^  manager: pip' "$scratch/env/conda-lock.yml")
t_lock=$(median "$scratch/none" run_lock)
times=()
for _ in $(seq "$RUNS"); do
  drop_build_caches
  t0=$(date +%s.%N); run_build >/dev/null 2>&1; t1=$(date +%s.%N)
  times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
done
t_build=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p")
printf '%-28s %10s   (%d pip packages locked)\n' "envpack lock (env file)" "$t_lock" "$pip_pkgs"
printf '%-28s %10s   (install + pip layers, %s)\n' "envpack build --frozen" "$t_build" "${COMPRESSION:-gzip}"
printf '%-28s %9sx   (pip vs lock + build)\n' "speed-up" "$(awk -v a="$t_pip" -v b="$t_lock" -v c="$t_build" 'BEGIN { printf "%.1f", a / (b + c) }')"
