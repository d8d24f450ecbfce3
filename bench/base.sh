#!/usr/bin/env bash
# envpack base build next to mmdebstrap alone (the floor; goal: within 1.2x), in one run:
#   1. first build of the small recipe (debian12-openmpi4-python): resolve with mmdebstrap, split
#      into layers, write the lock            vs  mmdebstrap writing a .tar.gz of the same packages
#   2. rebuild with nothing changed (a cache hit: no mmdebstrap)
#   3. rebuild from the lock with the image gone (mmdebstrap from the cached .debs, offline-able)
#   4. first build of the CUDA recipe in a fresh ENVPACK_HOME (when /usr/local/cuda exists), its
#      size, and how many layers it shares with the small image
# Needs root, mmdebstrap and Debian's archive. Takes several minutes (mmdebstrap: ~50 s per run on
# a quiet machine).
set -euo pipefail
ENVPACK=${ENVPACK:-build/cli/envpack}
ENVPACK=$(realpath "$ENVPACK")
SRC=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ] || ! command -v mmdebstrap >/dev/null; then echo "bench/base.sh: needs root and mmdebstrap; skipped"; exit 0; fi
S=$(mktemp -d "${TMPDIR:-/tmp}/envpack-bench-base.XXXXXX")
trap 'rm -rf "$S"' EXIT
export SOURCE_DATE_EPOCH=1700000000
now() { date +%s.%N; }
secs() { /usr/bin/python3 -c "print(f'{$2 - $1:.1f}')"; }
mb() { /usr/bin/python3 -c "print(f'{$1 / 1e6:.0f}')"; }
small="$SRC/base-images/debian12-openmpi4-python.yaml"
cuda="$SRC/base-images/debian12-openmpi4-cuda13-cudnn9.yaml"
img_size() { ENVPACK_HOME=$1 "$ENVPACK" inspect "$2" --json | jq .size; }

# mmdebstrap alone, the same package set (gzip tarball, as an image layer would be).
t0=$(now)
mmdebstrap --quiet --variant=minbase --include=openmpi-bin,python3-numpy,python3-mpi4py bookworm "$S/floor.tar.gz" http://deb.debian.org/debian
t1=$(now)
floor=$(secs "$t0" "$t1"); floor_size=$(stat -c %s "$S/floor.tar.gz")

export ENVPACK_HOME=$S/home
t0=$(now); "$ENVPACK" -q base build "$small" --lock "$S/small.lock" >/dev/null; t1=$(now)
first=$(secs "$t0" "$t1"); first_size=$(img_size "$ENVPACK_HOME" envpack/debian12-openmpi4-python:1)
t0=$(now); "$ENVPACK" -q base build "$small" --lock "$S/small.lock" >/dev/null; t1=$(now)
hit=$(secs "$t0" "$t1")
# From the lock: drop the image, its build record and Debian layer records; keep the .debs.
"$ENVPACK" rm envpack/debian12-openmpi4-python:1 >/dev/null; "$ENVPACK" gc >/dev/null
rm -rf "$ENVPACK_HOME/base/builds" "$ENVPACK_HOME/base/layers"
t0=$(now); "$ENVPACK" -q base build "$small" --lock "$S/small.lock" >/dev/null; t1=$(now)
fromlock=$(secs "$t0" "$t1")

echo "| | time | size (MB, compressed) |"
echo "|---|---|---|"
echo "| mmdebstrap alone → .tar.gz (floor) | ${floor} s | $(mb "$floor_size") |"
echo "| envpack base build, small, first | ${first} s ($(/usr/bin/python3 -c "print(f'{$first / $floor:.2f}')")× the floor) | $(mb "$first_size") |"
echo "| rebuild, nothing changed (cache hit) | ${hit} s | |"
echo "| rebuild from the lock, image deleted (local .debs) | ${fromlock} s | |"

if [ -d /usr/local/cuda ]; then
  export ENVPACK_HOME=$S/home-cuda
  t0=$(now); "$ENVPACK" -q base build "$cuda" --lock "$S/cuda.lock" >/dev/null; t1=$(now)
  cfirst=$(secs "$t0" "$t1"); csize=$(img_size "$ENVPACK_HOME" envpack/debian12-openmpi4-cuda13-cudnn9:1)
  t0=$(now); "$ENVPACK" -q base build "$cuda" --lock "$S/cuda.lock" >/dev/null; t1=$(now)
  chit=$(secs "$t0" "$t1")
  shared=$(comm -12 <(ENVPACK_HOME=$S/home "$ENVPACK" inspect envpack/debian12-openmpi4-python:1 --json | jq -r '.layers[].digest' | sort) \
                    <("$ENVPACK" inspect envpack/debian12-openmpi4-cuda13-cudnn9:1 --json | jq -r '.layers[].digest' | sort) | wc -l)
  echo "| envpack base build, CUDA (cudnn9), first, fresh ENVPACK_HOME | ${cfirst} s | $(mb "$csize") |"
  echo "| CUDA rebuild, nothing changed | ${chit} s | |"
  echo "| layers shared by the two images (independent builds) | ${shared} | |"
fi
