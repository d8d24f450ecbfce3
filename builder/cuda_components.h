// CUDA components of a base image: which toolkit libraries each one is, what it needs (other
// components, Debian packages), and reading them from a CUDA Toolkit directory.
//
// The table and `cuda_component_closure` are pure. `probe_cuda_toolkit` and
// `cuda_component_files` read the toolkit directory: the toolkit at /usr/local/cuda on these
// machines is assembled from NVIDIA's wheels (no version.json; versions in dist-info/ folders).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace envpack {

struct CudaComponent {
    std::string_view name;
    // Shell globs over file names in the toolkit's lib directory: the shared libraries and their
    // symlinks (libcudart.so, libcudart.so.13, ...).
    std::vector<std::string_view> libraries;
    std::vector<std::string_view> static_libraries;  // *.a, only when the recipe asks
    std::vector<std::string_view> needs;             // components it loads or links
    std::vector<std::string_view> debian;            // Debian packages it needs at run time
    std::string_view dist_info;  // wheel name whose dist-info folder gives its version
};

// Every known component, in layer order (cudart first: everything needs it).
const std::vector<CudaComponent>& cuda_components();
const CudaComponent* find_cuda_component(std::string_view name);
// The known names, comma-separated (for error hints).
std::string cuda_component_names();

// `selected` plus everything they need, each once, in table order. Throws a bad-input Error
// naming an unknown component.
std::vector<std::string> cuda_component_closure(const std::vector<std::string>& selected);

// "13.0.96" -> "13.0"; "13" -> "13.0"; "" when `version` does not start with a number.
std::string cuda_major_minor(std::string_view version);

// The runtime version from the first source that has one, in this order:
//   version.json's cuda_cudart (or cuda) "version"; the name of a nvidia_cuda_runtime-*.dist-info
//   folder; `nvcc --version`'s "release X.Y" (from `nvcc_output`).
// Each argument is the text of that source, or nullopt when it is missing. Returns the version and
// the source's name ("version.json", "dist-info", "nvcc"), or nullopt when none has one.
struct CudaVersion {
    std::string version;
    std::string source;
};
std::optional<CudaVersion> cuda_version_from(const std::optional<std::string>& version_json,
                                             const std::vector<std::string>& dist_info_names,
                                             const std::optional<std::string>& nvcc_output);

struct CudaToolkit {
    std::filesystem::path root;     // canonical toolkit directory
    std::filesystem::path lib_dir;  // canonical lib64/ (or lib/, targets/<arch>/lib)
    CudaVersion version;
    // Component name -> version of its wheel (from dist-info), where known.
    std::map<std::string, std::string> component_versions;
};

// Reads the toolkit at `dir`. Throws a bad-input Error when the directory or its lib directory is
// missing, or no CUDA version can be found.
CudaToolkit probe_cuda_toolkit(const std::filesystem::path& dir);

struct CudaFile {
    std::string name;  // file name in the lib directory (or path relative to the toolkit root)
    std::filesystem::path source;
    bool symlink = false;
    std::string link_target;  // symlinks: as written, a name in the same directory
    std::uint64_t size = 0;
    std::int64_t mtime = 0;
    std::uint32_t mode = 0644;
    bool operator==(const CudaFile&) const = default;
};

// The library files of `component` (and its static archives when asked), sorted by name. Every
// symlink's chain is followed and its targets included; a chain that leaves the directory or ends
// at a missing file is a bad-input Error naming the link. A component with no library in the
// toolkit is a bad-input Error.
enum class StaticLibraries { no, yes };
std::vector<CudaFile> cuda_component_files(const CudaToolkit& toolkit,
                                           const CudaComponent& component,
                                           StaticLibraries with_static);

// Every regular file and symlink under `toolkit.root / sub` (recursively), with `name` relative to
// the root; empty when the folder is missing.
std::vector<CudaFile> cuda_tree_files(const CudaToolkit& toolkit, std::string_view sub);

}  // namespace envpack
