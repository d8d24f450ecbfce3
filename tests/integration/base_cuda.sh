#!/usr/bin/env bash
# The CUDA recipe (runs when /usr/local/cuda exists): every ELF in its CUDA layers resolves all its
# needed libraries inside the image (ldd in a chroot of the unpacked image), symlink chains are
# intact, env and labels are NVIDIA's, and the Debian layers are the small base's, byte for byte.
source "$(dirname "$0")/lib.sh"
[ -d /usr/local/cuda ] || skip "no CUDA Toolkit at /usr/local/cuda"
[ "$(id -u)" = 0 ] || skip "chroot needs root"
need jq umoci chroot
env_file="${ENVPACK_BUILD_DIR:?}/base-image.env"
[ -f "$env_file" ] || skip "the base_image fixture did not build (see integration: base_fixture)"
source "$env_file"
# The fixture's home: its package cache and Debian layers serve this recipe too (same debian:).
export ENVPACK_HOME="$BASE_IMAGE_HOME"
cp "$BASE_IMAGE_LOCK" "$SCRATCH/cuda.lock"
ref=test/base-cuda:1
cleanup "ENVPACK_HOME=$BASE_IMAGE_HOME $ENVPACK rm $ref >/dev/null 2>&1"
start=$(date +%s)
SOURCE_DATE_EPOCH="$BASE_IMAGE_EPOCH" "$ENVPACK" base build "$ENVPACK_SOURCE_DIR/base-images/debian12-openmpi4-cuda13-cudnn9.yaml" \
  --lock "$SCRATCH/cuda.lock" -t "$ref" --json > "$SCRATCH/cuda.json" || fail "CUDA base build failed"
echo "CUDA base build: $(( $(date +%s) - start )) s"
"$ENVPACK" inspect "$BASE_IMAGE_REF" --json > "$SCRATCH/small.json"
"$ENVPACK" inspect "$ref" --json > "$SCRATCH/inspect.json"

names=$(jq -r '[.layers[].name] | join(",")' "$SCRATCH/cuda.json")
[ "$names" = "system,mpi,python,rest,cudart,nvrtc,cublas,cudnn,nccl" ] || fail "layers: $names"
# Shared layers: the small image's layers are the CUDA image's first layers, digest for digest.
small=$(jq -r '[.layers[].digest] | join(" ")' "$SCRATCH/small.json")
first=$(jq -r --argjson n "$(jq '.layers | length' "$SCRATCH/small.json")" '[.layers[:$n][].digest] | join(" ")' "$SCRATCH/inspect.json")
[ "$small" = "$first" ] || fail "system/MPI/Python layers differ from the small base's"

env_of() { jq -r --arg k "$1" '.env[] | select(startswith($k + "=")) | sub("^[^=]*="; "")' "$SCRATCH/inspect.json"; }
[ "$(env_of NVIDIA_REQUIRE_CUDA)" = "cuda>=13.0" ] || fail "NVIDIA_REQUIRE_CUDA=$(env_of NVIDIA_REQUIRE_CUDA)"
[ "$(env_of NVIDIA_VISIBLE_DEVICES)" = all ] || fail "NVIDIA_VISIBLE_DEVICES"
[ "$(env_of NVIDIA_DRIVER_CAPABILITIES)" = compute,utility ] || fail "NVIDIA_DRIVER_CAPABILITIES"
[[ "$(env_of CUDA_VERSION)" == 13.0.* ]] || fail "CUDA_VERSION=$(env_of CUDA_VERSION)"
[[ "$(env_of LD_LIBRARY_PATH)" == /usr/local/cuda/lib64:* ]] || fail "LD_LIBRARY_PATH=$(env_of LD_LIBRARY_PATH)"
[[ "$(env_of PATH)" == */usr/local/cuda/bin:* ]] || fail "PATH=$(env_of PATH)"
jq -r '.labels["org.envpack.virtual-packages"]' "$SCRATCH/inspect.json" | jq -e '.__cuda == "13.0" and .__glibc == "2.36"' >/dev/null \
  || fail "virtual packages: $(jq -r '.labels["org.envpack.virtual-packages"]' "$SCRATCH/inspect.json")"
jq -e '.labels["com.nvidia.cudnn.version"] | startswith("9.")' "$SCRATCH/inspect.json" >/dev/null || fail "cudnn label"

bundle="$SCRATCH/bundle"
umoci unpack --image "$ENVPACK_HOME/store:$ref" "$bundle" >/dev/null || fail "umoci unpack"
root="$bundle/rootfs"
lib="$root/usr/local/cuda/lib64"
[ -d "$lib" ] || fail "no /usr/local/cuda/lib64 in the image"
# No static archives, headers or tools unless asked.
[ -z "$(find "$root/usr/local/cuda/" -name '*.a' -o -name '*.h' -o -name nvcc)" ] || fail "static archives, headers or tools in the image"
# Symlink chains: every link resolves to a file inside the image.
n=0
for l in $(find "$lib/" -type l); do
  t=$(chroot "$root" readlink -f "/usr/local/cuda/lib64/$(basename "$l")")
  [ -f "$root$t" ] || fail "broken symlink chain: $l -> $t"; n=$((n+1))
done
[ "$n" -ge 10 ] || fail "only $n symlinks"
# Every ELF resolves its needed libraries inside the image.
count=0
for f in $(find "$lib/" -type f); do
  head -c 4 "$f" | grep -q 'ELF' || continue
  out=$(chroot "$root" env LD_LIBRARY_PATH="$(env_of LD_LIBRARY_PATH)" ldd "/usr/local/cuda/lib64/$(basename "$f")" 2>&1) || fail "ldd $f: $out"
  if grep -q 'not found' <<<"$out"; then fail "$(basename "$f"): $(grep 'not found' <<<"$out")"; fi
  count=$((count+1))
done
[ "$count" -ge 12 ] || fail "only $count ELF files checked"
for want in libcudart.so.13 libcublasLt.so.13 libcudnn_engines_runtime_compiled.so.9 libnvrtc.so.13 libnvrtc-builtins.so.13.0 libnccl.so.2; do
  [ -f "$lib/$want" ] || fail "$want missing"
done
echo "CUDA image: $count ELF files resolve, $n symlinks intact, Debian layers shared"
