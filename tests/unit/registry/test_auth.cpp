// WWW-Authenticate parsing, docker config.json lookups, credential storage (registry/auth.h,
// registry/credentials.h).
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "registry/auth.h"
#include "registry/credentials.h"

using namespace envpack;
using nlohmann::json;

TEST_CASE("WWW-Authenticate: bearer with quoted parameters") {
    auto c = parse_www_authenticate(
        R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull")");
    REQUIRE(c.size() == 1);
    CHECK(c[0].scheme == "bearer");
    CHECK(c[0].params["realm"] == "https://auth.docker.io/token");
    CHECK(c[0].params["service"] == "registry.docker.io");
    CHECK(c[0].params["scope"] == "repository:library/ubuntu:pull");
}

TEST_CASE("WWW-Authenticate: basic - several challenges - token values - escapes") {
    auto c = parse_www_authenticate(
        R"(Basic realm="Registry Realm", Bearer realm=https://x/t,service=reg  error="invalid_token")");
    REQUIRE(c.size() == 2);
    CHECK(c[0].scheme == "basic");
    CHECK(c[0].params["realm"] == "Registry Realm");
    CHECK(c[1].scheme == "bearer");
    CHECK(c[1].params["realm"] == "https://x/t");
    CHECK(c[1].params["service"] == "reg");
    CHECK(c[1].params["error"] == "invalid_token");
    auto q = parse_www_authenticate(R"(Bearer realm="a\"b", Scope="x")");
    REQUIRE(q.size() == 1);
    CHECK(q[0].params["realm"] == "a\"b");
    CHECK(q[0].params["scope"] == "x");
    CHECK(parse_www_authenticate("").empty());
    CHECK(parse_www_authenticate("=,=").empty());
}

TEST_CASE("repository scopes") {
    CHECK(repository_scope("team/env", "pull,push") == "repository:team/env:pull,push");
}

TEST_CASE("base64 round trip") {
    for (std::string s : {"", "a", "ab", "abc", "user:pa:ss", "\xff\x00\x10"}) {
        CHECK(base64_decode(base64_encode(s)) == s);
    }
    CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
    CHECK_FALSE(base64_decode("a*b"));
}

namespace {
std::optional<Credential> no_helper(const std::string&, const std::string&) {
    FAIL("no helper expected");
    return std::nullopt;
}
}  // namespace

TEST_CASE("config.json auths: host spellings and docker.io") {
    json config = {{"auths",
                    {{"localhost:5000", {{"auth", base64_encode("alice:s3cret")}}},
                     {"https://registry.example.com/v1/", {{"auth", base64_encode("bob:pw")}}},
                     {"https://index.docker.io/v1/", {{"auth", base64_encode("carol:pw2")}}},
                     {"token.example.com", {{"identitytoken", "refresh-me"}}}}}};
    auto a = credential_from_config(config, "localhost:5000", "cfg.json", no_helper);
    REQUIRE(a);
    CHECK(a->username == "alice");
    CHECK(a->password == "s3cret");
    CHECK(a->source.find("cfg.json") != std::string::npos);
    CHECK(a->source.find("s3cret") == std::string::npos);
    auto b = credential_from_config(config, "registry.example.com", "cfg.json", no_helper);
    REQUIRE(b);
    CHECK(b->username == "bob");
    auto c = credential_from_config(config, "docker.io", "cfg.json", no_helper);
    REQUIRE(c);
    CHECK(c->username == "carol");
    auto t = credential_from_config(config, "token.example.com", "cfg.json", no_helper);
    REQUIRE(t);
    CHECK(t->identity_token == "refresh-me");
    CHECK_FALSE(credential_from_config(config, "localhost:5001", "cfg.json", no_helper));
}

TEST_CASE("config.json: credHelpers win over auths - credsStore is the fallback") {
    json config = {{"auths", {{"a.example.com", {{"auth", base64_encode("u:p")}}}}},
                   {"credHelpers", {{"a.example.com", "ecr-login"}}},
                   {"credsStore", "pass"}};
    std::vector<std::string> calls;
    auto helper = [&](const std::string& name,
                      const std::string& host) -> std::optional<Credential> {
        calls.push_back(name + " " + host);
        return Credential{"h", "from-" + name, "", ""};
    };
    auto a = credential_from_config(config, "a.example.com", "f", helper);
    REQUIRE(a);
    CHECK(a->password == "from-ecr-login");
    CHECK(a->source == "docker-credential-ecr-login");
    auto b = credential_from_config(config, "b.example.com", "f", helper);
    REQUIRE(b);
    CHECK(b->password == "from-pass");
    CHECK(calls == std::vector<std::string>{"ecr-login a.example.com", "pass b.example.com"});
}

TEST_CASE("config.json: a malformed auth is bad input and does not echo it") {
    json config = {{"auths", {{"h", {{"auth", "bm9jb2xvbg=="}}}}}};  // "nocolon"
    try {
        credential_from_config(config, "h", "f.json", no_helper);
        FAIL("accepted");
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::bad_input);
        CHECK(std::string(e.what()).find("bm9jb2xvbg") == std::string::npos);
    }
}

TEST_CASE("store_credential writes docker's format - keeps other keys - mode 0600") {
    TempDir dir;
    auto file = dir.path() / "sub" / "config.json";
    write_file_atomic(dir.path() / "seed.json", "{}");
    CredentialOptions o;
    o.auth_file = file;
    store_credential("localhost:5000", "alice", "pw1", o);
    // another key survives a second login
    json j = json::parse(read_file(file));
    j["credsStore"] = "";
    j["proxies"] = {{"default", json::object()}};
    write_file_atomic(file, j.dump());
    store_credential("localhost:5000", "alice", "pw2", o);
    store_credential("docker.io", "dh", "pw3", o);
    json after = json::parse(read_file(file));
    CHECK(after.contains("proxies"));
    CHECK(after["auths"]["localhost:5000"]["auth"] == base64_encode("alice:pw2"));
    CHECK(after["auths"]["https://index.docker.io/v1/"]["auth"] == base64_encode("dh:pw3"));
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto found = find_credential("localhost:5000", o);
    REQUIRE(found);
    CHECK(found->password == "pw2");
}

TEST_CASE("credential file lookup order") {
    TempDir dir;
    CredentialOptions explicit_file;
    explicit_file.auth_file = dir.path() / "x.json";
    CHECK(credential_config_path(explicit_file) == dir.path() / "x.json");
    ::setenv("REGISTRY_AUTH_FILE", (dir.path() / "r.json").c_str(), 1);
    CHECK(credential_config_path({}) == dir.path() / "r.json");
    ::unsetenv("REGISTRY_AUTH_FILE");
    ::setenv("DOCKER_CONFIG", dir.path().c_str(), 1);
    CHECK(credential_config_path({}) == dir.path() / "config.json");
    ::unsetenv("DOCKER_CONFIG");
    CHECK_FALSE(find_credential("nowhere:1", explicit_file));  // missing file: no credential
    write_file_atomic(dir.path() / "x.json", "{not json");
    CHECK_THROWS_AS(find_credential("h", explicit_file), Error);
}
