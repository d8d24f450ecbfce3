// Base image recipes (base-images/*.yaml) as values: a Debian suite and packages for mmdebstrap,
// the layer groups the Debian packages are split into, optional CUDA components taken from a
// toolkit directory, and the image's environment and labels. base-images/README.md documents every
// key.
//
// `BaseRecipe::parse` is pure: it checks every key (an unknown key, a bad package or component
// name, a layer budget overrun are bad-input Errors formatted as file:line:column with the line and
// a caret) and never touches the disk. `to_yaml` writes the canonical form; parse(to_yaml(r)) == r.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"

namespace envpack {

// The most layers a base image may have (a fifth of the 100-layer cap, DESIGN.md).
inline constexpr std::size_t k_base_max_layers = 20;

// A named layer of Debian packages: the packages whose names match one of `patterns` (shell globs,
// `*` and `?`) and no earlier group's.
struct LayerGroupRule {
    std::string name;
    std::vector<std::string> patterns;
    bool operator==(const LayerGroupRule&) const = default;
};

// The layer groups used when a recipe has no `layers:` key: MPI (OpenMPI and its fabric and
// process-management libraries), then Python (the interpreter, its standard library and numerics).
// Every other package goes to `system`.
std::vector<LayerGroupRule> default_layer_groups();

struct DebianSpec {
    std::string suite = "bookworm";
    std::vector<std::string> mirrors = {"http://deb.debian.org/debian"};
    std::vector<std::string> components = {"main"};
    std::string variant = "minbase";  // mmdebstrap --variant
    std::string architecture = "amd64";
    std::vector<std::string> packages;  // Debian package names (no versions: the lock pins them)
    bool operator==(const DebianSpec&) const = default;
};

struct CudaSpec {
    std::filesystem::path toolkit = "/usr/local/cuda";
    std::vector<std::string> components;  // as written; each known to cuda_components.h
    bool static_libraries = false;        // also the components' static archives (.a)
    bool headers = false;                 // the toolkit's include/ in a `cuda-headers` layer
    bool tools = false;                   // the toolkit's bin/ and nvvm/ in a `cuda-tools` layer
    bool operator==(const CudaSpec&) const = default;
};

struct BaseRecipe {
    std::string name;  // the default image name (NAME[:TAG]); empty: envpack/<file stem>:latest
    std::string description;
    DebianSpec debian;
    std::vector<LayerGroupRule> layers;  // never empty after parse (default_layer_groups())
    std::optional<CudaSpec> cuda;
    std::map<std::string, std::string> env;     // added to (and overriding) the image's env
    std::map<std::string, std::string> labels;  // added to the image's labels
    bool operator==(const BaseRecipe&) const = default;

    // Throws a bad-input Error with file:line:column (`file` names the source in messages).
    static BaseRecipe parse(std::string_view text, const std::filesystem::path& file);
    // Reads and parses a recipe file. Throws Error naming the path when it cannot be read.
    static BaseRecipe load(const std::filesystem::path& file);
    // The canonical YAML form (every key written, defaults included).
    std::string to_yaml() const;

    // What decides the Debian package set (suite, mirrors, components, variant, architecture,
    // packages): a lock made for another key is stale.
    Digest debian_key() const;
    // Debian packages the CUDA components need at run time (zlib1g for cuDNN, ...), sorted.
    std::vector<std::string> cuda_debian_packages() const;
    // The number of layers the recipe makes at most: its groups, `system`, the unowned-files
    // layer, and one per CUDA component (closure) plus headers/tools layers.
    std::size_t max_layer_count() const;
};

// Shell-glob match of a package name (`*` any run, `?` one character).
bool glob_match(std::string_view pattern, std::string_view name);

}  // namespace envpack
