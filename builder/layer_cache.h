// The builder's caches on disk, under $ENVPACK_HOME (each entry one small JSON file, written
// atomically; a damaged or unreadable entry is a miss, never an error):
//
// - `layers/pkg-<install key>.json`: what installing a package produced (CachedPackage), so a
//   rebuild plans layers and writes conda-meta without extracting the package;
// - `layers/<layer key>.json`: a written layer (digest, diff_id, size, media type); a hit counts
//   only while the blob is still in the store (the caller checks);
// - `builds/<build key>`: the manifest an image with that build key had.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "builder/layer.h"
#include "core/digest.h"
#include "registry/image.h"

namespace envpack {

struct InstalledPackage;

// What the builder remembers about an installed package.
struct CachedPackage {
    std::string dist, name, version, build, license, channel;
    std::string meta_file, meta_json;  // conda-meta/<dist>.json (prefix-relative) and its text
    std::vector<std::string> paths;    // layer paths of files and links
    std::uint64_t installed_size = 0;

    static CachedPackage from_installed(const InstalledPackage& p);
    bool operator==(const CachedPackage&) const = default;
};

struct CachedLayer {
    Descriptor descriptor;
    Digest diff_id;
};

class LayerCache {
  public:
    // `dir` is created when missing.
    explicit LayerCache(std::filesystem::path dir);

    std::optional<CachedPackage> find_package(const Digest& install_key) const;
    void put_package(const Digest& install_key, const CachedPackage& package) const;
    std::optional<CachedLayer> find_layer(const Digest& layer_key) const;
    void put_layer(const Digest& layer_key, const LayerResult& layer) const;

  private:
    std::filesystem::path m_dir;
};

class BuildIndex {
  public:
    // `dir` is created when missing.
    explicit BuildIndex(std::filesystem::path dir);
    std::optional<Descriptor> find(const std::string& build_key) const;
    void put(const std::string& build_key, const Descriptor& manifest) const;

  private:
    std::filesystem::path m_dir;
};

}  // namespace envpack
