// The build's cache keys (builder/build_key.h): equal inputs give equal keys, every input
// matters, and pinned values guard against an accidental change of a key's layout (which would
// silently invalidate every cache; change the schema name when it is on purpose).
#include <functional>
#include <set>

#include <catch2/catch.hpp>

#include "builder/build_key.h"

using namespace envpack;

namespace {

BuildKeyInputs sample() {
    BuildKeyInputs in;
    in.platform = "linux-64";
    in.prefix = "/opt/conda";
    in.compressor = "gzip/libdeflate/level4/chunk1MiB";
    in.max_layers = 99;
    in.base_digest = Digest::of("base manifest");
    in.base_name = "test/base:1";
    in.packages = {{"./channel/linux-64/a-1.0-0.conda", std::string(64, 'a'), ""},
                   {"./channel/noarch/b-2.0-py_0.tar.bz2", "", std::string(32, 'b')}};
    in.lock_digest = Digest::of("lock").to_string();
    in.variables = {{"GREETING", "bonjour"}};
    return in;
}

}  // namespace

TEST_CASE("build key: equal inputs give equal keys, each input changes it", "[build_key]") {
    const std::string key = build_key(sample());
    CHECK(key.size() == 64);
    CHECK(build_key(sample()) == key);
    CHECK(key == "606cd440201b4e27cd3e89a62cfae511698d957d2e1091269462eb3370fd65ba");

    const std::vector<std::pair<const char*, std::function<void(BuildKeyInputs&)>>> changes = {
        {"platform", [](auto& in) { in.platform = "linux-aarch64"; }},
        {"prefix", [](auto& in) { in.prefix = "/opt/env"; }},
        {"compressor", [](auto& in) { in.compressor = "zstd/1.5.4/level3"; }},
        {"max layers", [](auto& in) { in.max_layers = 98; }},
        {"SOURCE_DATE_EPOCH", [](auto& in) { in.source_date_epoch = 0; }},
        {"no base", [](auto& in) { in.base_digest.reset(); }},
        {"base digest", [](auto& in) { in.base_digest = Digest::of("other"); }},
        {"base name", [](auto& in) { in.base_name = "test/base:2"; }},
        {"package url", [](auto& in) { in.packages[0].url = "./other/linux-64/a-1.0-0.conda"; }},
        {"package sha256", [](auto& in) { in.packages[0].sha256 = std::string(64, 'c'); }},
        {"package md5", [](auto& in) { in.packages[1].md5 = std::string(32, 'c'); }},
        {"package order", [](auto& in) { std::swap(in.packages[0], in.packages[1]); }},
        {"one package fewer", [](auto& in) { in.packages.pop_back(); }},
        {"lock text", [](auto& in) { in.lock_digest = Digest::of("lock 2").to_string(); }},
        {"variable value", [](auto& in) { in.variables[0].second = "hello"; }},
        {"variable moved to a package field",
         [](auto& in) {
             in.variables.clear();
             in.packages.push_back({"GREETING", "bonjour", ""});
         }},
    };
    std::set<std::string> seen = {key};
    for (const auto& [what, change] : changes) {
        BuildKeyInputs in = sample();
        change(in);
        INFO(what);
        CHECK(seen.insert(build_key(in)).second);
    }
}

TEST_CASE("build key: install and layer keys", "[build_key]") {
    InstallKeyInputs in{std::string(64, 'a'), "",
                        "a-1.0-0.conda",      "./channel/linux-64/a-1.0-0.conda",
                        "/opt/conda",         ""};
    const Digest k = package_install_key(in);
    CHECK(package_install_key(in) == k);
    CHECK(k.hex() == "0bd6b1c759e3889b7070b63ef3c5808592fbef62c3fdf2dadd3ce6c2b0680405");
    InstallKeyInputs other = in;
    other.prefix = "/opt/env";
    CHECK(package_install_key(other) != k);
    other = in;
    other.python_version = "3.11";
    CHECK(package_install_key(other) != k);
    other = in;
    other.sha256.clear();
    other.md5 = std::string(32, 'a');
    CHECK(package_install_key(other) != k);

    const Digest l = layer_key("gzip", std::nullopt, {{k, {}}});
    CHECK(l.hex() == "4f74cfae45a21c4e50ec8afc43e6cae4cb7bb6c2edb841358d4445c2aa92f346");
    CHECK(layer_key("gzip", std::nullopt, {{k, {}}}) == l);
    CHECK(layer_key("zstd", std::nullopt, {{k, {}}}) != l);
    CHECK(layer_key("gzip", 0, {{k, {}}}) != l);
    CHECK(layer_key("gzip", std::nullopt, {{k, {"bin/x"}}}) != l);
    CHECK(layer_key("gzip", std::nullopt, {{k, {}}, {package_install_key(other), {}}}) != l);
}
