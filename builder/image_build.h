// `envpack build`: a locked conda environment installed into package-granular layers on top of a
// base image from the local store, with a build cache and per-layer caches.
//
// Build cache: one Hasher ("envpack.build.v1") over the locked packages (url, sha256, md5), the
// base manifest digest, the environment's variables and the options (prefix, compression and
// compressor, max layers, platform, SOURCE_DATE_EPOCH). The key is recorded in the image config
// (label `org.envpack.build-key`) and in `$ENVPACK_HOME/builds/<key>`; a build whose key names an
// image still in the store tags it and returns without reading any package.
//
// Layer cache: each package has an install key (package hash, prefix, python version for noarch
// packages); each planned layer a key over its packages' install keys, the paths dropped by
// clobbering, and the compressor. `$ENVPACK_HOME/layers/<key>.json` maps it to (digest, diff_id,
// size); a layer whose blob is in the store is reused without reading its packages.
//
// The image: the base's layers, then the package layers (layer_plan.h), then one small layer with
// conda-meta/ (records + history). Config: the base's, with PATH prefixed by <prefix>/bin,
// CONDA_PREFIX, CONDA_DEFAULT_ENV, the env's `variables:`, labels (lock digest, package list, build
// key); manifest annotations org.opencontainers.image.base.name/base.digest. Everything is
// deterministic: the same lock, base and options give the same manifest digest.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/compress.h"
#include "core/log.h"
#include "registry/image.h"
#include "registry/store.h"

namespace envpack {

class HttpClient;

struct BuildOptions {
    std::filesystem::path env_file;
    std::filesystem::path lock_file;  // empty: conda-lock.yml beside env_file
    std::optional<std::string> base;  // a reference in the local store; none: no base
    std::string tag;                  // normalised NAME:TAG; empty: envpack/<env name>:<key>
    std::string prefix = "/opt/conda";
    Compression compression = Compression::gzip;
    std::optional<std::size_t> max_layers;  // for the environment; default 100 - base layers
    std::string platform = "linux-64";
    unsigned parallel = 4;  // downloads and extractions at once
    unsigned threads = 0;   // compressor threads (0: default)
    std::optional<std::int64_t> source_date_epoch;
    std::filesystem::path home;  // $ENVPACK_HOME
    // A second-level build cache (the --push target): called with the build key and the image
    // name after a local miss; returns true when it has put an image with that key into the store
    // under `name` (e.g. pulled from the registry's cache tag), so nothing is built. Failures of
    // the remote cache should degrade to a miss (return false), never fail the build.
    std::function<bool(const std::string& build_key, const std::string& name)> remote_cache;
};

struct BuildResult {
    std::string name;
    Descriptor manifest;
    bool cached = false;         // found by build key, nothing built
    bool cached_remote = false;  // ... and it came from the remote cache
    std::size_t layers_written = 0;
    std::size_t layers_reused = 0;
    std::vector<std::string> explain;  // one line per decision
    std::vector<std::string> clobbers;
    std::string build_key;
};

inline constexpr const char* k_label_build_key = "org.envpack.build-key";
inline constexpr const char* k_label_lock_digest = "org.envpack.lock-digest";
inline constexpr const char* k_label_packages = "org.envpack.packages";

// Throws Error: bad input for a missing/stale lock, a base not in the store, an unsafe package;
// failure for I/O (the store stays valid: blobs are only renamed into place when complete and the
// image is tagged last).
BuildResult build_image(Store& store, const BuildOptions& options, HttpClient* http, Log& log);

}  // namespace envpack
