// Round trips and the docker defaults of ImageRef (registry/reference.h).
#include <catch2/catch.hpp>

#include "core/error.h"
#include "registry/reference.h"

using envpack::ImageRef;

namespace {
const std::string k_hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
}

TEST_CASE("references round-trip exactly") {
    const std::vector<std::string> cases = {
        "ubuntu",
        "ubuntu:22.04",
        "library/ubuntu:22.04",
        "docker.io/library/ubuntu:22.04",
        "demo/env:1",
        "localhost/x",
        "localhost:5000/x",
        "localhost:5000/team/env:1",
        "127.0.0.1:5000/team/env:1",
        "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04",
        "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04:20240101.v1",
        "myacr.azurecr.io/azureml/azureml_0123abcd:latest",
        "ghcr.io/org/sub/deep/name:v1.2.3-rc_1",
        "a__b/c--d/e.f:T_a-g",
        "demo/env@sha256:" + k_hex,
        "demo/env:1@sha256:" + k_hex,
        "registry.example.com:443/x/y:1@sha256:" + k_hex,
        "[::1]:5000/x:1",
    };
    for (const auto& text : cases) {
        INFO(text);
        ImageRef r = ImageRef::parse(text);
        REQUIRE(r.to_string() == text);
        REQUIRE(ImageRef::parse(r.to_string()) == r);
    }
}

TEST_CASE("the distribution view applies docker.io defaults") {
    struct Case {
        std::string text, host, repo, reference, store;
    };
    const std::vector<Case> cases = {
        {"ubuntu", "docker.io", "library/ubuntu", "latest", "ubuntu:latest"},
        {"ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", "ubuntu:22.04"},
        {"docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", "docker.io/ubuntu:latest"},
        {"bitnami/redis", "docker.io", "bitnami/redis", "latest", "bitnami/redis:latest"},
        {"localhost:5000/x", "localhost:5000", "x", "latest", "localhost:5000/x:latest"},
        {"localhost/x:2", "localhost", "x", "2", "localhost/x:2"},
        {"127.0.0.1:5000/team/env:1", "127.0.0.1:5000", "team/env", "1",
         "127.0.0.1:5000/team/env:1"},
        {"demo/env:1@sha256:" + k_hex, "docker.io", "demo/env", "sha256:" + k_hex,
         "demo/env:1@sha256:" + k_hex},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        ImageRef r = ImageRef::parse(c.text);
        CHECK(r.registry_host() == c.host);
        CHECK(r.remote_repository() == c.repo);
        CHECK(r.remote_reference() == c.reference);
        CHECK(r.store_name() == c.store);
    }
}

TEST_CASE("a domain is recognised by a dot - a port or localhost") {
    CHECK(ImageRef::parse("foo/bar").domain().empty());
    CHECK(ImageRef::parse("foo.com/bar").domain() == "foo.com");
    CHECK(ImageRef::parse("foo:5000/bar").domain() == "foo:5000");
    CHECK(ImageRef::parse("localhost/bar").domain() == "localhost");
    CHECK(ImageRef::parse("localhost:5000/bar:1").path() == "bar");
    CHECK(ImageRef::parse("localhost:5000/bar:1").tag() == "1");
}

TEST_CASE("malformed references are bad input naming the reference") {
    const std::vector<std::string> bad = {
        "",
        "demo/UPPER",
        "Upper",
        "demo/env:",
        "demo/env:bad tag",
        ":tag",
        "/leading",
        "trailing/",
        "double//slash",
        "demo/env@sha256:abc",
        "demo/env@md5:" + k_hex,
        "demo/-dash",
        "demo/dot.",
        "host:port/x",
        "demo/env:" + std::string(129, 'a'),
        "a/b:1:2",
    };
    for (const auto& text : bad) {
        INFO(text);
        std::string why;
        CHECK_FALSE(ImageRef::try_parse(text, &why));
        CHECK_FALSE(why.empty());
        try {
            ImageRef::parse(text);
            FAIL("parse accepted " << text);
        } catch (const envpack::Error& e) {
            CHECK(e.code() == envpack::ExitCode::bad_input);
            CHECK(std::string(e.what()).find("invalid image reference") != std::string::npos);
        }
    }
}

TEST_CASE("with_tag and with_digest") {
    ImageRef r = ImageRef::parse("localhost:5000/team/env");
    CHECK(r.with_tag("azureml_abc").to_string() == "localhost:5000/team/env:azureml_abc");
    auto d = envpack::Digest::parse("sha256:" + k_hex);
    CHECK(r.with_digest(*d).remote_reference() == "sha256:" + k_hex);
}
