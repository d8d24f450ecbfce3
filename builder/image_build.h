// The builder's entry point: a locked conda environment installed into package-granular layers
// on top of a base image in the local store, with a build cache and per-layer caches. Values in,
// image out: the caller has loaded the environment file and its lock (resolver/lock.h), and put
// the base into the store.
//
// Steps, each in its own file: build key (build_key.h) → image found by key in the store
// (builds/, layer_cache.h) or in the remote cache (registry/build_cache.h) → packages: cached
// install records or download, verify, extract, plan (package_cache.h, conda_install.h) →
// clobbers (the later package wins) → layer plan (layer_plan.h) → layers: reused by layer key or
// written (layer.h) → conda-meta layer and package list (manifest_assembly.h) → config
// (image_config.h) → manifest (manifest_assembly.h) → tag, then record the build key.
//
// Local channels are named as the environment file writes them (resolver/lock.h portable_url) in
// keys, conda-meta and labels, so two checkouts of one project in different folders give the
// same manifest digest. Everything is deterministic: the same lock, base and options give the
// same manifest digest.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "builder/image_config.h"
#include "core/compress.h"
#include "core/log.h"
#include "registry/image.h"
#include "registry/store.h"

namespace envpack {

class HttpClient;
class RemoteBuildCache;
struct EnvSpec;
struct LockFile;

struct BuildOptions {
    std::optional<std::string> base;  // a store name; none: no base
    std::string tag;                  // normalised NAME:TAG; empty: envpack/<env name>:<key>
    std::string prefix = "/opt/conda";
    Compression compression = Compression::gzip;
    std::optional<std::size_t> max_layers;  // for the environment; default 100 - base layers
    std::string platform = "linux-64";
    unsigned parallel = 4;  // downloads and extractions at once
    unsigned threads = 0;   // compressor threads (0: default)
    std::optional<std::int64_t> source_date_epoch;
    std::filesystem::path home;  // $ENVPACK_HOME: pkgs/, layers/, builds/
    // A second-level build cache (the --push target), asked after a local miss; null: none.
    RemoteBuildCache* remote_cache = nullptr;
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

// Builds (or finds) the image of `lock`'s packages for options.platform. `env` supplies the
// variables, the name, and the local channels' names. Throws Error: bad input for a lock without
// that platform or with non-conda packages, a base not in the store, a bad prefix or layer
// budget, an unsafe package; failure for I/O (the store stays valid: blobs are only renamed into
// place when complete and the image is tagged last).
BuildResult build_environment(Store& store, const EnvSpec& env, const LockFile& lock,
                              const BuildOptions& options, HttpClient* http, Log& log);

}  // namespace envpack
