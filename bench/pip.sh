#!/bin/bash
# envpack pip install vs Debian's pip: resolution and installation of ~50 wheels made by
# tests/integration/pip_make_wheels.py bench (a few large native wheels with hundreds of files and
# MBs of .so, some medium ones, many small pure ones; each package depends on 0-4 of the later
# ones, two versions of each) from a --find-links directory into an empty prefix.
#   pip:     pip install --isolated --no-compile --ignore-installed --no-index --find-links DIR --prefix P
#   envpack: envpack pip install --find-links DIR --prefix P
# Each side runs RUNS times, each run into a NEW prefix directory; the prefixes are removed only
# after all runs (untimed), page cache warm; medians are printed side by side with the ratio. The
# installed trees are compared once (tests/integration/pip_compare.py).
# Why a new directory each run rather than `rm -rf` of the previous one: on ext4 a file created
# right after thousands were deleted pays for the inode allocator skipping the recently freed
# inodes (`recently_deleted` under ext4_create/ext4_mkdir: perf showed ~60% of envpack's run there,
# and pip pays it too). No real install follows the removal of a 3,000-file tree by a second, so
# no side is charged for it.
# Then the same list as the `pip:` section of an environment file (with a stub python X.Y from a
# conda channel the bench makes): `envpack lock` (conda solve + pip resolution) and `envpack build
# --frozen` into a fresh image each run (the layer cache and build index moved aside, untimed, for
# the same reason): every wheel installed and the pip layers written and compressed, with gzip (the
# default) and with zstd. The same environment file without its pip list is locked and built the
# same way: the difference is what the pip section costs in `envpack lock` + `envpack build`
# (resolution, wheels checked and installed as layers), set against pip's resolve + install;
# the whole commands' figure also holds two process starts each, the conda solve and layers, the
# image config and manifest.
# All of it runs twice when /dev/shm is a tmpfs: once in $TMPDIR (a disk file system), once in
# /dev/shm (memory). Both figures are honest; they are different disks.
set -euo pipefail
ENVPACK=${ENVPACK:-build/cli/envpack}
ENVPACK=$(realpath "$ENVPACK")
N=${N:-50}
RUNS=${RUNS:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
shm=""
cleanup() {
  rm -rf "$scratch"
  if [[ -n $shm ]]; then rm -rf "$shm"; fi
}
trap cleanup EXIT
PYVER=$(/usr/bin/python3 -c 'import sys;print("%d.%d"%sys.version_info[:2])')

tops=$(/usr/bin/python3 "$src/tests/integration/pip_make_wheels.py" bench "$scratch/wheels" "$N")
read -r -a REQS <<<"$tops"
wheels=$(ls "$scratch/wheels" | wc -l)
bytes=$(du -sb "$scratch/wheels" | cut -f1)

# The conda side of the environment file: a stub python X.Y in a local channel.
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
# The same environment without its pip list: what the pip section adds to `envpack lock` and
# `envpack build` is the difference.
mkdir -p "$scratch/conda-only"
ln -s ../env/channel "$scratch/conda-only/channel"
printf 'name: bench\nchannels: [./channel]\ndependencies:\n  - python=%s\n' "$PYVER" > "$scratch/conda-only/env.yml"

middle() { sort -g | sed -n "$(( (RUNS + 1) / 2 ))p"; }
# timed CMD...: runs CMD (output dropped; a failure stops the bench) and prints "WALL CPU", CPU
# being user + system time of CMD and its children: on a loaded machine the wall time moves with
# the load, the CPU time much less.
timed() {
  local TIMEFORMAT='%R %U %S' out
  out=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
  awk '{ printf "%.3f %.3f", $1, $2 + $3 }' <<<"$out"
}
# medians < "WALL CPU" lines: "WALL CPU", each the median of its column.
medians() {
  local lines
  lines=$(cat)
  printf '%s %s' "$(cut -d' ' -f1 <<<"$lines" | middle)" "$(cut -d' ' -f2 <<<"$lines" | middle)"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

# bench_on DIR: the whole comparison with prefixes, ENVPACK_HOME and image store under DIR.
bench_on() {
  local dir=$1 fstype i
  mkdir -p "$dir"
  fstype=$(findmnt -n -o FSTYPE --target "$dir" 2>/dev/null | head -n 1)  # stat -f says ext2/ext3 for ext4
  fstype=${fstype:-$(stat -f -c %T "$dir")}
  export ENVPACK_HOME="$dir/home"
  local trash="$dir/trash"
  mkdir -p "$trash"
  run_pip() {  # run_pip PREFIX
    env $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/-u \1/p') PIP_DISABLE_PIP_VERSION_CHECK=1 \
      /usr/bin/python3 -m pip install --isolated --no-compile --ignore-installed --no-index \
      --no-warn-script-location --root-user-action=ignore -q --find-links "$scratch/wheels" --prefix "$1" "${REQS[@]}"
  }
  run_envpack() {  # run_envpack PREFIX
    "$ENVPACK" pip install --find-links "$scratch/wheels" --prefix "$1" --python "$PYVER" \
      --interpreter /usr/bin/python3 --json "${REQS[@]}" >"$dir/ep.json"
  }
  # median NAME CMD...: medians of RUNS runs of CMD PREFIX, each into a new PREFIX.
  median() {
    local name=$1 lines="" i
    shift
    for i in $(seq "$RUNS"); do
      lines+="$(timed "$@" "$dir/$name-$i")"$'\n'
    done
    medians <<<"$lines"
  }
  run_envpack "$dir/ep-warm" && run_pip "$dir/pip-warm"  # warm-up (and page cache)
  local installed files same
  installed=$(/usr/bin/python3 -c 'import json,sys;print(len(json.load(open(sys.argv[1]))["packages"]))' "$dir/ep.json")
  files=$(find "$dir/ep-warm" -type f | wc -l)
  same=$(/usr/bin/python3 "$src/tests/integration/pip_compare.py" "$dir/pip-warm" "$dir/ep-warm" "$PYVER" | tail -1)
  local t_pip c_pip t_ep c_ep split
  local res
  res=$(median pip run_pip)
  read -r t_pip c_pip <<<"$res"
  res=$(median ep run_envpack)
  read -r t_ep c_ep <<<"$res"
  split=$(/usr/bin/python3 -c 'import json,sys;d=json.load(open(sys.argv[1]));print("resolve %d ms, install %d ms" % (d["resolve_ms"], d["install_ms"]))' "$dir/ep.json")

  # The pip layers of envpack build.
  run_lock() { rm -f "$scratch/${2:-env}/conda-lock.yml"; "$ENVPACK" lock -f "$scratch/${2:-env}/env.yml"; }
  run_build() { "$ENVPACK" build -f "$scratch/${2:-env}/env.yml" --frozen -t "bench/${2:-env}:1" --compression "$1"; }
  local moved=0
  drop_build_caches() {  # moved aside, not deleted (see the header)
    moved=$((moved + 1))
    mkdir -p "$trash/$moved"
    for d in layers builds; do
      if [[ -e $ENVPACK_HOME/$d ]]; then mv "$ENVPACK_HOME/$d" "$trash/$moved/${d//\//-}"; fi
    done
  }
  run_lock >/dev/null 2>&1 && drop_build_caches && run_build gzip >/dev/null 2>&1  # warm-up
  local pip_pkgs t_lock c_lock c
  pip_pkgs=$(grep -c '^  manager: pip' "$scratch/env/conda-lock.yml")
  local lines=""
  for i in $(seq "$RUNS"); do lines+="$(timed run_lock)"$'\n'; done
  res=$(medians <<<"$lines")
  read -r t_lock c_lock <<<"$res"
  declare -A t_build c_build
  for c in gzip zstd; do
    lines=""
    for i in $(seq "$RUNS"); do
      drop_build_caches
      lines+="$(timed run_build "$c")"$'\n'
    done
    res=$(medians <<<"$lines")
    read -r "t_build[$c]" "c_build[$c]" <<<"$res"
  done
  # The conda-only twin, locked and built the same way.
  local t_lock0 c_lock0 t_build0 c_build0
  run_lock x conda-only >/dev/null 2>&1 && drop_build_caches && run_build gzip conda-only >/dev/null 2>&1
  lines=""
  for i in $(seq "$RUNS"); do lines+="$(timed run_lock x conda-only)"$'\n'; done
  read -r t_lock0 c_lock0 <<<"$(medians <<<"$lines")"
  lines=""
  for i in $(seq "$RUNS"); do
    drop_build_caches
    lines+="$(timed run_build gzip conda-only)"$'\n'
  done
  read -r t_build0 c_build0 <<<"$(medians <<<"$lines")"
  local t_section c_section
  t_section=$(awk -v a="$t_lock" -v b="${t_build[gzip]}" -v c="$t_lock0" -v d="$t_build0" 'BEGIN { printf "%.3f", a + b - c - d }')
  c_section=$(awk -v a="$c_lock" -v b="${c_build[gzip]}" -v c="$c_lock0" -v d="$c_build0" 'BEGIN { printf "%.3f", a + b - c - d }')

  printf '\n%s (%s): %d wheel files (%s MB), %d packages installed, %d files; %s\n' \
    "$dir" "$fstype" "$wheels" "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')" \
    "$installed" "$files" "$same"
  printf '  %-28s %8s %8s\n' "" "seconds" "cpu s"
  printf '  %-28s %8s %8s\n' "pip $( /usr/bin/python3 -m pip --version | cut -d' ' -f2 ) (--no-index -f)" "$t_pip" "$c_pip"
  printf '  %-28s %8s %8s   (%s)\n' "envpack pip install" "$t_ep" "$c_ep" "$split"
  printf '  %-28s %7sx %7sx\n' "speed-up" "$(ratio "$t_pip" "$t_ep")" "$(ratio "$c_pip" "$c_ep")"
  printf '  %-28s %8s %8s   (%d pip packages locked)\n' "envpack lock (env file)" "$t_lock" "$c_lock" "$pip_pkgs"
  for c in gzip zstd; do
    printf '  %-28s %8s %8s   (install + pip layers, %s)\n' "envpack build --frozen" "${t_build[$c]}" "${c_build[$c]}" "$c"
  done
  for c in gzip zstd; do
    printf '  %-28s %7sx %7sx   (pip vs lock + build, %s)\n' "speed-up" \
      "$(awk -v a="$t_pip" -v b="$t_lock" -v c="${t_build[$c]}" 'BEGIN { printf "%.1f", a / (b + c) }')" \
      "$(awk -v a="$c_pip" -v b="$c_lock" -v c="${c_build[$c]}" 'BEGIN { printf "%.1f", a / (b + c) }')" "$c"
  done
  printf '  %-28s %8s %8s   (the same file without its pip list)\n' "envpack lock + build, conda" \
    "$(awk -v a="$t_lock0" -v b="$t_build0" 'BEGIN { printf "%.3f", a + b }')" \
    "$(awk -v a="$c_lock0" -v b="$c_build0" 'BEGIN { printf "%.3f", a + b }')"
  printf '  %-28s %8s %8s   (what the pip section adds to lock + build, gzip)\n' "the pip section" "$t_section" "$c_section"
  printf '  %-28s %7sx %7sx   (pip vs the pip section of lock + build)\n' "speed-up" \
    "$(ratio "$t_pip" "$t_section")" "$(ratio "$c_pip" "$c_section")"
  summary+=("$(printf '%-18s pip %6s s  envpack %6s s  %5sx | lock + build: gzip %6s s %5sx, zstd %6s s %5sx' \
    "$fstype" "$t_pip" "$t_ep" "$(ratio "$t_pip" "$t_ep")" \
    "$(awk -v b="$t_lock" -v c="${t_build[gzip]}" 'BEGIN { printf "%.3f", b + c }')" \
    "$(awk -v a="$t_pip" -v b="$t_lock" -v c="${t_build[gzip]}" 'BEGIN { printf "%.1f", a / (b + c) }')" \
    "$(awk -v b="$t_lock" -v c="${t_build[zstd]}" 'BEGIN { printf "%.3f", b + c }')" \
    "$(awk -v a="$t_pip" -v b="$t_lock" -v c="${t_build[zstd]}" 'BEGIN { printf "%.1f", a / (b + c) }')") | pip section $(printf '%6s s %5sx' "$t_section" "$(ratio "$t_pip" "$t_section")")")
  rm -rf "$dir"  # every prefix and moved cache, untimed
}

summary=()
bench_on "$scratch/disk"
if [[ -d /dev/shm && $(stat -f -c %T /dev/shm) == tmpfs ]]; then
  shm=$(mktemp -d /dev/shm/envpack-bench-XXXXXX)
  bench_on "$shm/run"
fi
printf '\nsummary (medians of %d runs, %d wheel files):\n' "$RUNS" "$wheels"
printf '  %s\n' "${summary[@]}"
