// Manifest assembly and the conda-meta layer (builder/manifest_assembly.h), pure values.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "builder/manifest_assembly.h"

using namespace envpack;

namespace {

Descriptor layer(const std::string& what) {
    Descriptor d;
    d.media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
    d.digest = Digest::of(what);
    d.size = static_cast<std::int64_t>(what.size());
    return d;
}

CachedPackage package(const std::string& name) {
    CachedPackage p;
    p.name = name;
    p.version = "1.0";
    p.build = "0";
    p.dist = name + "-1.0-0";
    p.channel = "./channel";
    p.license = "MIT";
    p.meta_file = "conda-meta/" + p.dist + ".json";
    p.meta_json = R"({"name":")" + name + R"("})";
    return p;
}

}  // namespace

TEST_CASE("manifest: base layers, then the environment's; annotations name the base",
          "[manifest_assembly]") {
    Manifest base;
    base.layers = {layer("base")};
    Descriptor config = layer("config");
    config.media_type = "application/vnd.oci.image.config.v1+json";
    const Digest base_digest = Digest::of("base manifest");
    Manifest m = assemble_manifest(base, {layer("a"), layer("meta")}, config,
                                   BaseImage{"test/base:1", base_digest}, "1970-01-01T00:00:00Z");
    REQUIRE(m.layers.size() == 3);
    CHECK(m.layers[0].digest == Digest::of("base"));
    CHECK(m.layers[1].digest == Digest::of("a"));
    CHECK(m.layers[2].digest == Digest::of("meta"));
    CHECK(m.config.digest == config.digest);
    CHECK(m.annotations.at("org.opencontainers.image.base.name") == "test/base:1");
    CHECK(m.annotations.at("org.opencontainers.image.base.digest") == base_digest.to_string());
    CHECK(m.annotations.at("org.opencontainers.image.created") == "1970-01-01T00:00:00Z");
    // Deterministic bytes: equal values, equal digests.
    Manifest again =
        assemble_manifest(base, {layer("a"), layer("meta")}, config,
                          BaseImage{"test/base:1", base_digest}, "1970-01-01T00:00:00Z");
    CHECK(again.to_bytes() == m.to_bytes());

    Manifest alone =
        assemble_manifest(Manifest{}, {layer("a")}, config, std::nullopt, "1970-01-01T00:00:00Z");
    CHECK(alone.layers.size() == 1);
    CHECK_FALSE(alone.annotations.contains("org.opencontainers.image.base.name"));
}

TEST_CASE("manifest: the conda-meta layer and the package list", "[manifest_assembly]") {
    std::vector<CachedPackage> pkgs = {package("a"), package("b")};
    auto entries = conda_meta_entries("/opt/conda", pkgs, "env.yml");
    REQUIRE(entries.size() == 4);
    CHECK(entries[0].path == "opt/conda/conda-meta/a-1.0-0.json");
    CHECK(entries[0].data == R"({"name":"a"})");
    CHECK(entries[0].size == entries[0].data.size());
    CHECK(entries[2].path == "opt/conda/conda-meta/history");
    CHECK(entries[2].data ==
          "==> 1970-01-01 00:00:00 <==\n# cmd: envpack build -f env.yml\n"
          "+./channel::a-1.0-0\n+./channel::b-1.0-0\n");
    CHECK(entries[3].path == "opt/conda/bin");
    CHECK(entries[3].type == EntryType::directory);

    auto list = nlohmann::json::parse(package_list_label(pkgs));
    REQUIRE(list.size() == 2);
    CHECK(list[0] == nlohmann::json{{"name", "a"},
                                    {"version", "1.0"},
                                    {"build", "0"},
                                    {"channel", "./channel"},
                                    {"license", "MIT"}});
}
