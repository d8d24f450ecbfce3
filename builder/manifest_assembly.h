// The last steps of an environment build, pure functions over values:
// - the conda-meta layer's entries (each package's `conda-meta/<dist>.json`, `conda-meta/history`
//   naming the environment file by its file name only, and `<prefix>/bin`), so `conda list` works
//   in the container;
// - the package-list label (name, version, build, channel as the environment file names it,
//   license), in install order;
// - the manifest: the base's layers, then the environment's, the config, and the annotations
//   `org.opencontainers.image.created` and, with a base, `base.name` / `base.digest`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "builder/layer.h"
#include "builder/layer_cache.h"
#include "registry/image.h"

namespace envpack {

// `prefix` is absolute ("/opt/conda"); entries are relative to the image root.
std::vector<LayerEntry> conda_meta_entries(const std::string& prefix,
                                           const std::vector<CachedPackage>& packages,
                                           const std::string& env_file_name);

// JSON text of the `org.envpack.packages` label.
std::string package_list_label(const std::vector<CachedPackage>& packages);

struct BaseImage {
    std::string name;  // store name, e.g. "test/base:1"
    Digest digest;     // its manifest digest
};

Manifest assemble_manifest(const Manifest& base_manifest, const std::vector<Descriptor>& layers,
                           const Descriptor& config, const std::optional<BaseImage>& base,
                           const std::string& created);

}  // namespace envpack
