#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "builder/cuda_components.h"
#include "core/error.h"
#include "core/fs.h"

using namespace envpack;
namespace fs = std::filesystem;

TEST_CASE("components bring what they need, in table order") {
    CHECK(cuda_component_closure({"cudnn"}) ==
          std::vector<std::string>{"cudart", "nvrtc", "cublas", "cudnn"});
    CHECK(cuda_component_closure({"nccl", "cudart"}) == std::vector<std::string>{"cudart", "nccl"});
    CHECK(cuda_component_closure({"cusolver"}) ==
          std::vector<std::string>{"cudart", "nvjitlink", "cublas", "cusparse", "cusolver"});
    CHECK_THROWS_WITH(cuda_component_closure({"cudaa"}), Catch::Contains("unknown CUDA component"));
}

TEST_CASE("the CUDA version comes from version.json, dist-info, then nvcc") {
    auto v = cuda_version_from(R"({"cuda_cudart": {"version": "12.4.127"}})", {}, std::nullopt);
    REQUIRE(v);
    CHECK(v->version == "12.4.127");
    CHECK(v->source == "version.json");
    v = cuda_version_from(
        std::nullopt, {"nvidia_cublas-13.1.0.3.dist-info", "nvidia_cuda_runtime-13.0.96.dist-info"},
        "Cuda compilation tools, release 13.0, V13.0.88");
    REQUIRE(v);
    CHECK(v->version == "13.0.96");
    CHECK(v->source == "dist-info");
    v = cuda_version_from(std::nullopt, {}, "Cuda compilation tools, release 13.0, V13.0.88");
    REQUIRE(v);
    CHECK(v->version == "13.0");
    CHECK(v->source == "nvcc");
    CHECK_FALSE(cuda_version_from(std::nullopt, {}, std::nullopt));
    CHECK(cuda_major_minor("13.0.96") == "13.0");
    CHECK(cuda_major_minor("12") == "12.0");
}

TEST_CASE("component files follow symlink chains and leave out static archives") {
    TempDir t("cuda-test-");
    fs::path root = t.path() / "cuda";
    make_dirs(root / "lib");
    make_dirs(root / "dist-info" / "nvidia_cuda_runtime-13.0.96.dist-info");
    fs::create_directory_symlink("lib", root / "lib64");
    std::ofstream(root / "lib" / "libcudart.so.13.0.96") << "elf";
    fs::create_symlink("libcudart.so.13.0.96", root / "lib" / "libcudart.so.13");
    fs::create_symlink("libcudart.so.13", root / "lib" / "libcudart.so");
    std::ofstream(root / "lib" / "libcudart_static.a") << "ar";
    CudaToolkit tk = probe_cuda_toolkit(root);
    CHECK(tk.version.version == "13.0.96");
    CHECK(tk.component_versions.at("cudart") == "13.0.96");
    auto files = cuda_component_files(tk, *find_cuda_component("cudart"), StaticLibraries::no);
    REQUIRE(files.size() == 3);
    CHECK(files[0].name == "libcudart.so");
    CHECK(files[0].symlink);
    CHECK(files[2].name == "libcudart.so.13.0.96");
    CHECK_FALSE(files[2].symlink);
    CHECK(cuda_component_files(tk, *find_cuda_component("cudart"), StaticLibraries::yes).size() ==
          4);
    CHECK_THROWS_WITH(cuda_component_files(tk, *find_cuda_component("nccl"), StaticLibraries::no),
                      Catch::Contains("no library"));
    fs::create_symlink("libnccl.so.2", root / "lib" / "libnccl.so");
    CHECK_THROWS_WITH(cuda_component_files(tk, *find_cuda_component("nccl"), StaticLibraries::no),
                      Catch::Contains("missing"));
    CHECK_THROWS_WITH(probe_cuda_toolkit(t.path() / "nope"), Catch::Contains("does not exist"));
}
