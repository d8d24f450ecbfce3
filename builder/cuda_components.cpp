#include "builder/cuda_components.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/base_recipe.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"

namespace envpack {

namespace fs = std::filesystem;

const std::vector<CudaComponent>& cuda_components() {
    // Needs follow the libraries' DT_NEEDED entries and what they dlopen: cuDNN's engines compile
    // kernels with NVRTC at run time and call cuBLASLt; NVRTC loads its builtins; cuSOLVER links
    // cuBLAS, cuSPARSE and nvJitLink.
    static const std::vector<CudaComponent> table = {
        {"cudart", {"libcudart.so*"}, {"libcudart_static.a"}, {}, {}, "nvidia_cuda_runtime"},
        {"nvrtc",
         {"libnvrtc.so*", "libnvrtc-builtins.so*"},
         {"libnvrtc_static.a", "libnvrtc-builtins_static.a"},
         {"cudart"},
         {"libstdc++6", "libgcc-s1"},
         "nvidia_cuda_nvrtc"},
        {"nvjitlink",
         {"libnvJitLink.so*"},
         {"libnvJitLink_static.a"},
         {"cudart"},
         {},
         "nvidia_nvjitlink"},
        {"cublas",
         {"libcublas.so*", "libcublasLt.so*"},
         {"libcublas_static.a", "libcublasLt_static.a"},
         {"cudart"},
         {"libgcc-s1"},
         "nvidia_cublas"},
        {"cufft",
         {"libcufft.so*", "libcufftw.so*"},
         {"libcufft_static*.a", "libcufftw_static.a"},
         {"cudart"},
         {"libgcc-s1"},
         "nvidia_cufft"},
        {"curand", {"libcurand.so*"}, {"libcurand_static.a"}, {"cudart"}, {}, "nvidia_curand"},
        {"cusparse",
         {"libcusparse.so*"},
         {"libcusparse_static.a"},
         {"cudart", "nvjitlink"},
         {"libgcc-s1"},
         "nvidia_cusparse"},
        {"cusolver",
         {"libcusolver.so*", "libcusolverMg.so*"},
         {"libcusolver_static.a"},
         {"cudart", "cublas", "cusparse", "nvjitlink"},
         {"libgcc-s1"},
         "nvidia_cusolver"},
        {"cudnn",
         {"libcudnn.so*", "libcudnn_*.so*"},
         {"libcudnn*_static*.a"},
         {"cudart", "nvrtc", "cublas"},
         {"zlib1g", "libstdc++6", "libgcc-s1"},
         "nvidia_cudnn_cu13"},
        {"nccl",
         {"libnccl.so*"},
         {"libnccl_static.a"},
         {"cudart"},
         {"libstdc++6", "libgcc-s1"},
         "nvidia_nccl_cu13"},
    };
    return table;
}

const CudaComponent* find_cuda_component(std::string_view name) {
    for (const auto& c : cuda_components()) {
        if (c.name == name) {
            return &c;
        }
    }
    return nullptr;
}

std::string cuda_component_names() {
    std::string out;
    for (const auto& c : cuda_components()) {
        out += out.empty() ? "" : ", ";
        out += c.name;
    }
    return out;
}

std::vector<std::string> cuda_component_closure(const std::vector<std::string>& selected) {
    std::set<std::string_view> wanted;
    std::vector<std::string_view> stack;
    for (const auto& s : selected) {
        if (find_cuda_component(s) == nullptr) {
            throw bad_input(fmt::format("unknown CUDA component `{}`", s),
                            fmt::format("known components: {}", cuda_component_names()));
        }
        stack.push_back(find_cuda_component(s)->name);
    }
    while (!stack.empty()) {
        std::string_view n = stack.back();
        stack.pop_back();
        if (!wanted.insert(n).second) {
            continue;
        }
        for (auto dep : find_cuda_component(n)->needs) {
            stack.push_back(dep);
        }
    }
    std::vector<std::string> out;
    for (const auto& c : cuda_components()) {
        if (wanted.contains(c.name)) {
            out.emplace_back(c.name);
        }
    }
    return out;
}

std::string cuda_major_minor(std::string_view version) {
    std::smatch m;
    std::string v(version);
    static const std::regex re(R"(^(\d+)(?:\.(\d+))?)");
    if (!std::regex_search(v, m, re)) {
        return {};
    }
    return fmt::format("{}.{}", m[1].str(), m[2].matched ? m[2].str() : "0");
}

std::optional<CudaVersion> cuda_version_from(const std::optional<std::string>& version_json,
                                             const std::vector<std::string>& dist_info_names,
                                             const std::optional<std::string>& nvcc_output) {
    if (version_json) {
        auto j = nlohmann::json::parse(*version_json, nullptr, false);
        for (const char* key : {"cuda_cudart", "cuda"}) {
            if (j.is_object() && j.contains(key) && j[key].is_object() &&
                j[key].contains("version") && j[key]["version"].is_string()) {
                return CudaVersion{j[key]["version"].get<std::string>(), "version.json"};
            }
        }
    }
    static const std::regex dist(R"(^nvidia_cuda_runtime(?:_cu\d+)?-([0-9][0-9.]*)\.dist-info$)");
    for (const auto& n : dist_info_names) {
        std::smatch m;
        if (std::regex_match(n, m, dist)) {
            return CudaVersion{m[1].str(), "dist-info"};
        }
    }
    if (nvcc_output) {
        static const std::regex rel(R"(release (\d+\.\d+))");
        std::smatch m;
        if (std::regex_search(*nvcc_output, m, rel)) {
            return CudaVersion{m[1].str(), "nvcc"};
        }
    }
    return std::nullopt;
}

namespace {

std::optional<std::string> read_if_exists(const fs::path& p) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) {
        return std::nullopt;
    }
    return read_file(p);
}

CudaFile file_of(const fs::path& path, std::string name) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        throw_errno("stat", path.string(), errno);
    }
    CudaFile f;
    f.name = std::move(name);
    f.source = path;
    f.mode = st.st_mode & 07777;
    f.mtime = st.st_mtime;
    if (S_ISLNK(st.st_mode)) {
        f.symlink = true;
        f.link_target = fs::read_symlink(path).string();
    } else {
        f.size = static_cast<std::uint64_t>(st.st_size);
    }
    return f;
}

}  // namespace

CudaToolkit probe_cuda_toolkit(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        throw bad_input(fmt::format("CUDA toolkit directory `{}` does not exist", dir.string()),
                        "install a CUDA Toolkit there, or set `cuda: toolkit:` in the recipe");
    }
    CudaToolkit t;
    t.root = fs::canonical(dir);
    for (const char* sub : {"lib64", "lib", "targets/x86_64-linux/lib"}) {
        if (fs::is_directory(t.root / sub, ec)) {
            t.lib_dir = fs::canonical(t.root / sub);
            break;
        }
    }
    if (t.lib_dir.empty()) {
        throw bad_input(
            fmt::format("CUDA toolkit `{}` has no lib64/ or lib/ directory", t.root.string()),
            "point `cuda: toolkit:` at the toolkit's root (the folder holding lib64/)");
    }
    std::vector<std::string> dist_names;
    if (fs::is_directory(t.root / "dist-info", ec)) {
        for (const auto& e : fs::directory_iterator(t.root / "dist-info")) {
            dist_names.push_back(e.path().filename().string());
        }
        std::sort(dist_names.begin(), dist_names.end());
    }
    std::optional<std::string> nvcc;
    if (fs::exists(t.root / "bin" / "nvcc", ec)) {
        ProcessResult r = run_process({(t.root / "bin" / "nvcc").string(), "--version"});
        if (r.ok()) {
            nvcc = r.out;
        }
    }
    auto v = cuda_version_from(read_if_exists(t.root / "version.json"), dist_names, nvcc);
    if (!v) {
        throw bad_input(
            fmt::format("CUDA toolkit `{}`: no CUDA version found", t.root.string()),
            "it needs version.json, a nvidia_cuda_runtime-*.dist-info folder, or bin/nvcc");
    }
    t.version = *v;
    for (const auto& c : cuda_components()) {
        for (const auto& n : dist_names) {
            std::string prefix = fmt::format("{}-", c.dist_info);
            if (n.starts_with(prefix) && n.ends_with(".dist-info")) {
                t.component_versions[std::string(c.name)] =
                    n.substr(prefix.size(), n.size() - prefix.size() - 10);
            }
        }
    }
    return t;
}

std::vector<CudaFile> cuda_component_files(const CudaToolkit& toolkit,
                                           const CudaComponent& component,
                                           StaticLibraries with_static) {
    std::map<std::string, CudaFile> picked;
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(toolkit.lib_dir)) {
        names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    auto matches = [](const std::vector<std::string_view>& globs, const std::string& n) {
        return std::any_of(globs.begin(), globs.end(),
                           [&](std::string_view g) { return glob_match(g, n); });
    };
    bool any_shared = false;
    for (const auto& n : names) {
        bool shared = matches(component.libraries, n);
        bool is_static =
            with_static == StaticLibraries::yes && matches(component.static_libraries, n);
        if (!shared && !is_static) {
            continue;
        }
        CudaFile f = file_of(toolkit.lib_dir / n, n);
        if (!f.symlink && !fs::is_regular_file(f.source)) {
            continue;
        }
        any_shared = any_shared || shared;
        picked.emplace(n, std::move(f));
    }
    if (!any_shared) {
        throw bad_input(fmt::format("CUDA component `{}`: no library in `{}`", component.name,
                                    toolkit.lib_dir.string()),
                        "install it into the toolkit, or drop it from `cuda: components:`");
    }
    // Follow every symlink chain to its end inside the directory.
    std::vector<std::string> todo;
    for (const auto& [n, f] : picked) {
        if (f.symlink) {
            todo.push_back(n);
        }
    }
    while (!todo.empty()) {
        std::string n = todo.back();
        todo.pop_back();
        const std::string target = picked.at(n).link_target;
        if (target.empty() || target.find('/') != std::string::npos || target == "." ||
            target == "..") {
            throw bad_input(fmt::format("CUDA toolkit: `{}` links to `{}`, outside its directory",
                                        (toolkit.lib_dir / n).string(), target),
                            "the libraries' symlinks must name files in the same directory");
        }
        if (picked.contains(target)) {
            continue;
        }
        fs::path tp = toolkit.lib_dir / target;
        std::error_code ec;
        if (!fs::exists(fs::symlink_status(tp, ec))) {
            throw bad_input(fmt::format("CUDA toolkit: symlink `{}` points at missing `{}`",
                                        (toolkit.lib_dir / n).string(), target),
                            "repair the toolkit's symlink chain");
        }
        CudaFile f = file_of(tp, target);
        if (f.symlink) {
            todo.push_back(target);
        }
        picked.emplace(target, std::move(f));
    }
    std::vector<CudaFile> out;
    for (auto& [n, f] : picked) {
        out.push_back(std::move(f));
    }
    return out;
}

std::vector<CudaFile> cuda_tree_files(const CudaToolkit& toolkit, std::string_view sub) {
    std::vector<CudaFile> out;
    std::error_code ec;
    fs::path base = toolkit.root / sub;
    if (!fs::is_directory(base, ec)) {
        return out;
    }
    for (auto it = fs::recursive_directory_iterator(base); it != fs::recursive_directory_iterator();
         ++it) {
        auto st = it->symlink_status();
        if (fs::is_regular_file(st) || fs::is_symlink(st)) {
            out.push_back(file_of(it->path(), fs::relative(it->path(), toolkit.root).string()));
        }
    }
    std::sort(out.begin(), out.end(),
              [](const CudaFile& a, const CudaFile& b) { return a.name < b.name; });
    return out;
}

}  // namespace envpack
