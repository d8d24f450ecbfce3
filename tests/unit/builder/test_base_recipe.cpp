#include <catch2/catch.hpp>

#include <string>

#include "builder/base_recipe.h"
#include "core/error.h"

using namespace envpack;

namespace {

std::string error_of(const std::string& text) {
    try {
        BaseRecipe::parse(text, "r.yaml");
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::bad_input);
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("a full recipe parses into its values") {
    BaseRecipe r = BaseRecipe::parse(R"(name: envpack/x:1
description: d
debian:
  suite: trixie
  mirrors: [http://a/debian, http://b/debian]
  components: [main, contrib]
  variant: required
  architecture: arm64
  packages: [openmpi-bin, python3-numpy]
layers:
  - {name: mpi, packages: ["*openmpi*"]}
cuda:
  toolkit: /opt/cuda
  components: [cudnn]
  static: true
  headers: yes
env: {A: "1"}
labels: {l: v}
)",
                                     "r.yaml");
    CHECK(r.name == "envpack/x:1");
    CHECK(r.debian.suite == "trixie");
    CHECK(r.debian.mirrors.size() == 2);
    CHECK(r.debian.components == std::vector<std::string>{"main", "contrib"});
    CHECK(r.debian.variant == "required");
    CHECK(r.debian.architecture == "arm64");
    CHECK(r.debian.packages == std::vector<std::string>{"openmpi-bin", "python3-numpy"});
    REQUIRE(r.layers.size() == 1);
    CHECK(r.layers[0].name == "mpi");
    REQUIRE(r.cuda);
    CHECK(r.cuda->toolkit == "/opt/cuda");
    CHECK(r.cuda->static_libraries);
    CHECK(r.cuda->headers);
    CHECK_FALSE(r.cuda->tools);
    CHECK(r.env.at("A") == "1");
    CHECK(r.labels.at("l") == "v");
    // cuDNN brings cudart, nvrtc, cublas; and zlib from Debian.
    CHECK(r.max_layer_count() == 1 + 2 + 4 + 1);
    auto deb = r.cuda_debian_packages();
    CHECK(std::find(deb.begin(), deb.end(), "zlib1g") != deb.end());
}

TEST_CASE("defaults and the canonical form round-trip") {
    BaseRecipe r = BaseRecipe::parse("debian: {packages: [openmpi-bin]}\n", "r.yaml");
    CHECK(r.debian.suite == "bookworm");
    CHECK(r.debian.mirrors == std::vector<std::string>{"http://deb.debian.org/debian"});
    CHECK(r.debian.variant == "minbase");
    CHECK(r.layers == default_layer_groups());
    CHECK_FALSE(r.cuda);
    CHECK(BaseRecipe::parse(r.to_yaml(), "c.yaml") == r);
    BaseRecipe c = BaseRecipe::parse(
        "debian: {packages: []}\ncuda: {components: [nccl, cudnn]}\nenv: {X: \"a b\"}\n", "r.yaml");
    CHECK(BaseRecipe::parse(c.to_yaml(), "c.yaml") == c);
}

TEST_CASE("the Debian key follows the package set, not its order or the CUDA part") {
    auto key = [](const std::string& t) { return BaseRecipe::parse(t, "r.yaml").debian_key(); };
    CHECK(key("debian: {packages: [a1, b2]}") == key("debian: {packages: [b2, a1]}"));
    CHECK(key("debian: {packages: [a1]}\ncuda: {components: [cudart]}") ==
          key("debian: {packages: [a1]}"));
    CHECK(key("debian: {packages: [a1]}") != key("debian: {packages: [a1, b2]}"));
    CHECK(key("debian: {packages: [a1]}") != key("debian: {suite: trixie, packages: [a1]}"));
}

TEST_CASE("recipe errors name file, line and column") {
    CHECK_THAT(error_of("debian:\n  suite: bookworm\n  pakages: [x1]\n"),
               Catch::Contains("r.yaml:3:3: unknown key `pakages` in `debian`"));
    CHECK_THAT(error_of("debain: {}\n"), Catch::Contains("r.yaml:1:1: unknown key `debain`"));
    CHECK_THAT(error_of("name: x\n"), Catch::Contains("no `debian:` key"));
    CHECK_THAT(error_of("debian:\n  packages: [ok1, Bad_Name]\n"),
               Catch::Contains("r.yaml:2:19: `Bad_Name` in `debian.packages` is not valid"));
    CHECK_THAT(error_of("debian: {variant: tiny}\n"),
               Catch::Contains("unknown mmdebstrap variant"));
    CHECK_THAT(error_of("debian: {}\ncuda:\n  components: [cudart, cudaa]\n"),
               Catch::Contains("r.yaml:3:24: unknown CUDA component `cudaa`"));
    CHECK_THAT(error_of("debian: {}\ncuda: {}\n"), Catch::Contains("non-empty `components`"));
    CHECK_THAT(error_of("debian: {}\ncuda: {components: [cudart], static: maybe}\n"),
               Catch::Contains("true or false"));
    CHECK_THAT(error_of("debian: {}\nlayers: [{name: system}]\n"), Catch::Contains("reserved"));
    CHECK_THAT(error_of("debian: {}\nlayers: [{name: cudnn}]\n"),
               Catch::Contains("cannot name a layer group"));
    CHECK_THAT(error_of("debian: {}\nenv: {\"1X\": a}\n"), Catch::Contains("not a valid name"));
    CHECK_THAT(error_of("debian: [\n"), Catch::Contains("malformed YAML"));
    std::string many = "debian: {}\nlayers:\n";
    for (int i = 0; i < 19; ++i) {
        many += "  - {name: g" + std::to_string(i) + ", packages: [x]}\n";
    }
    CHECK_THAT(error_of(many), Catch::Contains("at most 20"));
}

TEST_CASE("glob matching of package names") {
    CHECK(glob_match("*openmpi*", "libopenmpi3"));
    CHECK(glob_match("python3*", "python3"));
    CHECK(glob_match("lib?ython3*", "libpython3.11-stdlib"));
    CHECK_FALSE(glob_match("python3*", "libpython3.11"));
    CHECK(glob_match("*", ""));
    CHECK_FALSE(glob_match("a", "ab"));
}
