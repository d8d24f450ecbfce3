// Pure parts of the distribution client: which hosts may use plain http, platform selection.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "registry/client.h"

using namespace envpack;
using nlohmann::json;

TEST_CASE("plain http only for loopback and explicit insecure hosts") {
    CHECK(allows_plain_http("localhost", {}));
    CHECK(allows_plain_http("localhost:5000", {}));
    CHECK(allows_plain_http("127.0.0.1:5000", {}));
    CHECK(allows_plain_http("127.255.0.9", {}));
    CHECK(allows_plain_http("[::1]:5000", {}));
    CHECK_FALSE(allows_plain_http("128.0.0.1:5000", {}));
    CHECK_FALSE(allows_plain_http("localhost.example.com:5000", {}));
    CHECK_FALSE(allows_plain_http("127.0.0.1.nip.io", {}));
    CHECK_FALSE(allows_plain_http("registry.lan:5000", {}));
    CHECK(allows_plain_http("registry.lan:5000", {"registry.lan:5000"}));
    CHECK(allows_plain_http("registry.lan:5000", {"registry.lan"}));
    CHECK_FALSE(allows_plain_http("registry.lan:5000", {"registry.lan:6000"}));
}

TEST_CASE("default options are documented values") {
    RegistryOptions o;
    CHECK(o.parallel == 6);
    CHECK(o.retries == 4);
    CHECK(o.platform.to_string() == "linux/amd64");
    CHECK(o.chunk_size >= (1u << 20));
}

namespace {
json entry(std::string digest_char, std::string os, std::string arch, std::string variant = "") {
    json p = {{"os", os}, {"architecture", arch}};
    if (!variant.empty()) {
        p["variant"] = variant;
    }
    return {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"digest", "sha256:" + std::string(64, digest_char[0])},
            {"size", 100},
            {"platform", p}};
}
}  // namespace

TEST_CASE("pick_platform chooses by os - architecture and variant") {
    json index = {{"schemaVersion", 2},
                  {"manifests",
                   {entry("a", "linux", "arm64", "v8"), entry("b", "linux", "amd64"),
                    entry("c", "windows", "amd64"), entry("d", "linux", "arm", "v7"),
                    entry("e", "linux", "arm", "v6")}}};
    CHECK(pick_platform(index, Platform{})->digest.hex()[0] == 'b');
    CHECK(pick_platform(index, *Platform::parse("linux/arm64"))->digest.hex()[0] == 'a');
    CHECK(pick_platform(index, *Platform::parse("linux/arm/v6"))->digest.hex()[0] == 'e');
    CHECK(pick_platform(index, *Platform::parse("windows/amd64"))->digest.hex()[0] == 'c');
    CHECK_FALSE(pick_platform(index, *Platform::parse("linux/s390x")));
    CHECK_FALSE(pick_platform(json::object(), Platform{}));
}
