// `envpack base build`: a base image from a recipe (base_recipe.h) — a Debian root filesystem
// made by mmdebstrap, split into layers by dpkg ownership (base_layers.h), plus one layer per CUDA
// component from a toolkit (cuda_components.h) — written into the local store and tagged.
//
// Steps (each a function over values, I/O at the edges):
//   1. recipe and toolkit: parse the recipe; probe the toolkit (a missing one fails here, before
//      anything runs or is written).
//   2. lock: RECIPE.lock (base_lock.h) is used when it was made for the recipe's Debian key and
//      holds the CUDA components' Debian needs; else (or with BaseLockMode::update) mmdebstrap
//      resolves against the archive, and the lock is written from the installed packages and the
//      .debs kept in $ENVPACK_HOME/base/debs.
//   3. build cache: a Hasher ("envpack.base.build.v1") over the lock's content, the recipe, the
//      toolkit files (name, size, mtime, mode, link), compression and SOURCE_DATE_EPOCH; a key
//      recorded in $ENVPACK_HOME/base/builds/ whose image is in the store is tagged and returned
//      without running anything.
//   4. Debian layers: reused from $ENVPACK_HOME/base/layers/ when the lock, the layer groups and
//      the options match; else mmdebstrap installs exactly the locked packages — from a local
//      repository of the cached .debs when all are there (no network), else from the archive —
//      and the tree is normalised (sources.list, apt's auto marks, host files removed), scanned
//      with owners, modes and xattrs kept, and split into layers.
//   5. CUDA layers (one per component, root-owned, under /usr/local/cuda-X.Y with the
//      /usr/local/cuda link), cached per component by the same kind of key.
//   6. config (env and labels as NVIDIA's images, the recipe's own, the virtual packages label),
//      manifest, tag (last: a failure leaves the store's names as they were).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "builder/base_recipe.h"
#include "core/compress.h"
#include "core/log.h"
#include "registry/image.h"
#include "registry/store.h"

namespace envpack {

// Labels a base image carries (read by `envpack lock`/`build` for the resolver).
inline constexpr const char* k_label_virtual_packages = "org.envpack.virtual-packages";
inline constexpr const char* k_label_base_layers = "org.envpack.base.layers";
inline constexpr const char* k_label_base_lock_digest = "org.envpack.base.lock-digest";
inline constexpr const char* k_label_base_packages = "org.envpack.base.debian-packages";
inline constexpr const char* k_label_base_recipe = "org.envpack.base.recipe";

enum class BaseLockMode { use, update };

struct BaseBuildOptions {
    std::filesystem::path recipe;
    std::filesystem::path lock_file;  // empty: the recipe's path with `.lock` for `.yaml`/`.yml`
    std::string tag;                  // normalised NAME:TAG; empty: the recipe's `name`
    BaseLockMode lock_mode = BaseLockMode::use;
    Compression compression = Compression::gzip;
    unsigned threads = 0;
    std::optional<std::int64_t> source_date_epoch;
    std::filesystem::path home;             // $ENVPACK_HOME
    std::string mmdebstrap = "mmdebstrap";  // the program (tests may substitute a failing one)
};

struct BaseLayerInfo {
    std::string name;  // system, mpi, python, ..., rest, cudart, ...
    Descriptor descriptor;
    Digest diff_id;
    bool reused = false;
};

struct BaseBuildResult {
    std::string name;
    Descriptor manifest;
    bool cached = false;        // found by build key: nothing run, nothing written
    bool bootstrapped = false;  // mmdebstrap ran
    bool lock_written = false;
    std::filesystem::path lock_file;
    std::string build_key;
    std::vector<BaseLayerInfo> layers;
    std::map<std::string, std::string> virtual_packages;
};

// The default lock path for a recipe: `dir/x.yaml` -> `dir/x.lock`.
std::filesystem::path default_base_lock_path(const std::filesystem::path& recipe);

// The image name for a recipe without -t: its `name` (":latest" added when it has no tag), or
// envpack/<file stem>:latest.
std::string default_base_image_name(const BaseRecipe& recipe, const std::filesystem::path& file);

// Throws Error: bad input for recipe errors (file:line:column), an unknown Debian package, a
// missing toolkit or component; failure for mmdebstrap and I/O failures. Nothing is tagged unless
// the whole build succeeds.
BaseBuildResult build_base_image(Store& store, const BaseBuildOptions& options, Log& log);

}  // namespace envpack
