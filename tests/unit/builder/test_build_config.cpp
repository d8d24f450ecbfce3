// Config rendering (builder/image_config.h), checked byte for byte against golden files in
// tests/unit/builder/golden/ (ENVPACK_UPDATE_GOLDEN=1 rewrites them; review the diff).
#include <cstdlib>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "builder/base_build.h"
#include "builder/image_config.h"
#include "core/fs.h"

using namespace envpack;
namespace fs = std::filesystem;

namespace {

void check_golden(const std::string& name, const std::string& actual) {
    const fs::path path = fs::path(ENVPACK_SOURCE_DIR) / "tests/unit/builder/golden" / name;
    if (const char* u = std::getenv("ENVPACK_UPDATE_GOLDEN"); u != nullptr && *u == '1') {
        write_file_atomic(path, actual);
    }
    INFO("golden file " << path.string());
    REQUIRE(fs::exists(path));
    CHECK(read_file(path) == actual);
}

EnvConfigInputs inputs() {
    EnvConfigInputs in;
    in.prefix = "/opt/env";
    in.variables = {{"GREETING", "bonjour"}, {"LANG", "C.UTF-8"}};
    in.labels = {{k_label_build_key, std::string(64, 'k')},
                 {k_label_lock_digest, Digest::of("lock").to_string()},
                 {k_label_packages, R"([{"name":"a"}])"}};
    in.layers = {{Digest::of("layer a"), "envpack build: package a-1.0-0"},
                 {Digest::of("conda-meta"), "envpack build: conda-meta"}};
    return in;
}

}  // namespace

TEST_CASE("image config: on a base, golden", "[image_config]") {
    ImageConfig base = ImageConfig::parse(R"({
      "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
      "config": {"Env": ["PATH=/usr/bin:/bin", "LANG=en_US.UTF-8", "CONDA_PREFIX=/old"],
                 "Cmd": ["/bin/sh"], "WorkingDir": "/work",
                 "Labels": {"org.envpack.virtual-packages": "__glibc=2.36", "keep": "me"}},
      "rootfs": {"type": "layers", "diff_ids": [")" +
                                              Digest::of("base layer").to_string() +
                                              R"("]},
      "history": [{"created_by": "envpack import"}],
      "x-unknown": {"kept": true}})",
                                          "base config");
    ImageConfig c = render_env_config(base, inputs());
    check_golden("env_config_on_base.json", c.to_bytes());
    CHECK(c.diff_ids.size() == 3);
    CHECK(c.labels.at("keep") == "me");
}

TEST_CASE("image config: no base, SOURCE_DATE_EPOCH, golden", "[image_config]") {
    EnvConfigInputs in = inputs();
    in.source_date_epoch = 1700000000;
    ImageConfig c = render_env_config(ImageConfig{}, in);
    check_golden("env_config_no_base.json", c.to_bytes());
    CHECK(c.created == "2023-11-14T22:13:20Z");
}

TEST_CASE("image config: virtual packages from a base's label", "[image_config]") {
    CHECK(virtual_overrides_from_labels({}).empty());
    CHECK(virtual_overrides_from_labels({{"other", "x"}}).empty());
    CHECK(virtual_overrides_from_labels(
              {{k_label_virtual_packages, " __glibc=2.36, __cuda=12.4=0\n__linux=5.10 "}}) ==
          std::vector<std::string>{"__glibc=2.36", "__cuda=12.4=0", "__linux=5.10"});
    // As `envpack base build` writes it (names sorted by the JSON object).
    CHECK(virtual_overrides_from_labels(
              {{k_label_virtual_packages, R"({"__glibc": "2.36", "__cuda": "13.0"})"}}) ==
          std::vector<std::string>{"__cuda=13.0", "__glibc=2.36"});
}
