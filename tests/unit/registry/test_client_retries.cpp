// Who retries what, counted: the registry client against an in-process fake registry (port 0) and
// a fake clock. A 503 on a blob GET costs 1 + retries requests (never retries × retries), a
// dropped body is resumed, wrong bytes are fetched again, an upload session is restarted whole,
// a 401 costs one request per credential tried; each failure ends with its kind.
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "fake_clock.h"
#include "fake_http_server.h"
#include "registry/client.h"
#include "registry/credentials.h"
#include "registry/store.h"

using namespace envpack;
using namespace envpack::test;

namespace {

// A registry holding one image, team/env:1 (a config and one 40,000-byte layer). `fault` sees every
// request first and may answer it instead.
struct FakeRegistry {
    std::string layer, config, manifest;
    Digest layer_digest, config_digest, manifest_digest;
    std::function<std::optional<std::string>(const FakeRequest&)> fault;
    std::atomic<int> uploads{0};
    FakeHttpServer server{[this](const FakeRequest& r, int) { return answer(r); }};

    FakeRegistry() {
        for (int i = 0; i < 40000; ++i) {
            layer += static_cast<char>('A' + (i * 7) % 26);
        }
        config =
            R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
        layer_digest = Digest::of(layer);
        config_digest = Digest::of(config);
        manifest = fmt::format(
            R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
            R"("config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},)"
            R"("layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}})",
            config_digest.to_string(), config.size(), layer_digest.to_string(), layer.size());
        manifest_digest = Digest::of(manifest);
    }
    std::string ref(std::string_view tag = "1") const {
        return fmt::format("127.0.0.1:{}/team/env:{}", server.port(), tag);
    }
    std::string answer(const FakeRequest& r) {
        if (fault) {
            if (auto a = fault(r)) {
                return *a;
            }
        }
        const std::string blobs = "/v2/team/env/blobs/";
        if (r.target == "/v2/") {
            return http_answer(200, "{}");
        }
        if (r.target.starts_with("/v2/team/env/manifests/")) {
            if (r.method == "PUT") {
                return http_answer(
                    201, "",
                    fmt::format("Docker-Content-Digest: {}\r\n", Digest::of(r.body).to_string()));
            }
            return http_answer(
                200, r.method == "HEAD" ? "" : manifest,
                fmt::format("Docker-Content-Digest: {}\r\n", manifest_digest.to_string()),
                "application/vnd.oci.image.manifest.v1+json");
        }
        if (r.method == "POST" && r.target.starts_with(blobs + "uploads/")) {
            return http_answer(202, "", fmt::format("Location: /upload/{}\r\n", ++uploads));
        }
        if (r.method == "PUT" && r.target.starts_with("/upload/")) {
            auto d = r.target.substr(r.target.find("digest=") + 7);
            return http_answer(201, "", fmt::format("Docker-Content-Digest: {}\r\n", d));
        }
        if (r.target.starts_with(blobs)) {
            if (r.method == "HEAD") {
                return http_answer(404, "");
            }
            std::string d = r.target.substr(blobs.size());
            if (d == layer_digest.to_string()) {
                return http_answer(200, layer, "", "application/octet-stream");
            }
            if (d == config_digest.to_string()) {
                return http_answer(200, config, "", "application/octet-stream");
            }
        }
        return http_answer(404, R"({"errors":[{"code":"NOT_FOUND","message":"no"}]})");
    }
    bool is_layer_get(const FakeRequest& r) const {
        return r.method == "GET" && r.target.ends_with(layer_digest.to_string());
    }
};

Error error_of(const std::function<void()>& f);

// A scratch directory with a store, a fake clock and options that use it (no user credentials).
struct Setup {
    TempDir dir;
    FakeClock clock;
    RegistryOptions options;
    Store store{dir.path() / "store"};
    Setup() {
        write_file_atomic(dir.path() / "auth.json", R"({"auths":{}})");
        options.auth_file = dir.path() / "auth.json";  // never the user's own credentials
        options.clock = &clock;
        options.retries = 4;
        options.parallel = 1;
    }
    PullResult pull(const FakeRegistry& reg) {
        return RegistryClient(options).pull(store, ImageRef::parse(reg.ref()));
    }
    // The Error the pull must end with.
    Error pull_error(const FakeRegistry& reg) {
        return error_of([&] { pull(reg); });
    }
};

Error error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    FAIL("expected an Error");
    return Error("unreachable");
}

}  // namespace

TEST_CASE("pull: a 503 on a blob GET costs 1 + retries requests - kind transient") {
    FakeRegistry reg;
    reg.fault = [&](const FakeRequest& r) -> std::optional<std::string> {
        if (reg.is_layer_get(r)) {
            return http_answer(503, "");
        }
        return std::nullopt;
    };
    Setup s;
    Error e = s.pull_error(reg);
    CHECK(e.kind() == ErrorKind::transient);
    CHECK(e.http_status() == 503);
    CHECK(std::string(e.what()).find("after 5 attempts") != std::string::npos);
    CHECK(reg.server.count("GET", reg.layer_digest.to_string()) == 5);  // was 25 (5 × 5)
    CHECK(s.clock.sleeps().size() == 4);
    CHECK_FALSE(s.store.resolve(ImageRef::parse(reg.ref()).store_name()));
}

TEST_CASE("pull: a dropped blob body is resumed - 2 requests - the blob is stored") {
    FakeRegistry reg;
    reg.fault = [&](const FakeRequest& r) -> std::optional<std::string> {
        if (!reg.is_layer_get(r)) {
            return std::nullopt;
        }
        if (r.header("range").empty()) {
            return http_dropped_answer(200, reg.layer, 15000);
        }
        CHECK(r.header("range") == "bytes=15000-");
        return http_answer(206, reg.layer.substr(15000),
                           fmt::format("Content-Range: bytes 15000-39999/40000\r\n"),
                           "application/octet-stream");
    };
    Setup s;
    PullResult result = s.pull(reg);
    CHECK(result.manifest_digest == reg.manifest_digest);
    CHECK(s.store.read_blob(reg.layer_digest) == reg.layer);
    CHECK(reg.server.count("GET", reg.layer_digest.to_string()) == 2);
}

TEST_CASE("pull: wrong bytes are fetched again - 1 + retries fetches - kind protocol") {
    FakeRegistry reg;
    std::atomic<int> bad{100};
    reg.fault = [&](const FakeRequest& r) -> std::optional<std::string> {
        if (reg.is_layer_get(r) && bad-- > 0) {
            std::string wrong = reg.layer;
            wrong[123] ^= 1;
            return http_answer(200, wrong, "", "application/octet-stream");
        }
        return std::nullopt;
    };
    Setup s;
    Error e = s.pull_error(reg);
    CHECK(e.kind() == ErrorKind::protocol);
    CHECK(std::string(e.what()).find("gave up after 5 attempts") != std::string::npos);
    CHECK(reg.server.count("GET", reg.layer_digest.to_string()) == 5);
    CHECK_FALSE(s.store.has_blob(reg.layer_digest));

    bad = 1;  // wrong once, then right: one more fetch and the pull succeeds
    Setup s2;
    int before = reg.server.count("GET", reg.layer_digest.to_string());
    s2.pull(reg);
    CHECK(reg.server.count("GET", reg.layer_digest.to_string()) - before == 2);
    CHECK(s2.store.has_blob(reg.layer_digest));
}

TEST_CASE("pull: 429 with Retry-After on the manifest waits what the server asks") {
    FakeRegistry reg;
    std::atomic<int> limited{2};
    reg.fault = [&](const FakeRequest& r) -> std::optional<std::string> {
        if (r.method == "GET" && r.target == "/v2/team/env/manifests/1" && limited-- > 0) {
            return http_answer(429, "", "Retry-After: 3\r\n");
        }
        return std::nullopt;
    };
    Setup s;
    s.pull(reg);
    CHECK(reg.server.count("GET", "/manifests/1") == 3);
    CHECK(s.clock.sleeps() ==
          std::vector<std::chrono::milliseconds>{std::chrono::seconds(3), std::chrono::seconds(3)});
}

TEST_CASE("a 401 without credentials costs one request - kind auth") {
    FakeRegistry reg;
    reg.fault = [&](const FakeRequest& r) -> std::optional<std::string> {
        if (r.target.starts_with("/v2/team/")) {
            return http_answer(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"no"}]})",
                               "WWW-Authenticate: Basic realm=\"test\"\r\n");
        }
        return std::nullopt;
    };
    Setup s;
    Error e = s.pull_error(reg);
    CHECK(e.kind() == ErrorKind::auth);
    CHECK(e.http_status() == 401);
    CHECK(std::string(e.what()).find("no credentials were found") != std::string::npos);
    CHECK(reg.server.count("GET", "/manifests/1") == 1);
    CHECK(s.clock.sleeps().empty());
}

TEST_CASE("a refused credential costs two requests - kind auth - no secret in the message") {
    FakeRegistry reg;
    reg.fault = [&](const FakeRequest& r) -> std::optional<std::string> {
        if (r.target.starts_with("/v2/team/")) {
            return http_answer(401, "", "WWW-Authenticate: Basic realm=\"test\"\r\n");
        }
        return std::nullopt;
    };
    Setup s;
    write_file_atomic(s.dir.path() / "auth.json",
                      fmt::format(R"({{"auths":{{"127.0.0.1:{}":{{"auth":"{}"}}}}}})",
                                  reg.server.port(), base64_encode("user:hunter2")));
    Error e = s.pull_error(reg);
    CHECK(e.kind() == ErrorKind::auth);
    CHECK(std::string(e.what()).find("refused the credentials") != std::string::npos);
    CHECK(std::string(e.what()).find("hunter2") == std::string::npos);
    auto reqs = reg.server.requests();
    CHECK(reg.server.count("GET", "/manifests/1") == 2);  // anonymous, then Basic: refused
    CHECK(reqs.back().header("authorization").starts_with("Basic "));
}

TEST_CASE("a token server that refuses: one token request - kind auth") {
    FakeRegistry reg;
    reg.fault = [&](const FakeRequest& r) -> std::optional<std::string> {
        if (r.target.starts_with("/token")) {
            return http_answer(401, "{}");
        }
        if (r.target.starts_with("/v2/team/")) {
            return http_answer(401, "",
                               fmt::format("WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{}/"
                                           "token\",service=\"test\"\r\n",
                                           reg.server.port()));
        }
        return std::nullopt;
    };
    Setup s;
    Error e = s.pull_error(reg);
    CHECK(e.kind() == ErrorKind::auth);
    CHECK(reg.server.count("GET", "/token") == 1);
    CHECK(reg.server.count("GET", "/manifests/1") == 1);
}

namespace {

// Pushes the fake registry's image (from a store that holds it as demo/env:1) back to it as
// team/env:2, with `reg.fault` in place; returns the Error the push must end with.
Error push_error(FakeRegistry& reg) {
    Setup s;
    Store& store = s.store;
    store.put_blob(reg.layer, media_type::k_oci_layer_tar);
    store.put_blob(reg.config, media_type::k_oci_config);
    store.tag("demo/env:1", store.put_blob(reg.manifest, media_type::k_oci_manifest));
    RegistryClient client(s.options);
    return error_of([&] { client.push(store, "demo/env:1", ImageRef::parse(reg.ref("2"))); });
}

}  // namespace

TEST_CASE("push: a 503 on the upload PUT restarts the session - 1 + retries sessions") {
    FakeRegistry reg;
    reg.fault = [&](const FakeRequest& r) -> std::optional<std::string> {
        if (r.method == "PUT" && r.target.find(reg.layer_digest.to_string()) != std::string::npos &&
            r.target.starts_with("/upload/")) {
            return http_answer(503, "");
        }
        return std::nullopt;
    };
    Error e = push_error(reg);
    CHECK(e.kind() == ErrorKind::transient);
    CHECK(std::string(e.what()).find("gave up after 5 attempts") != std::string::npos);
    CHECK(reg.server.count("PUT", reg.layer_digest.to_string()) == 5);  // one per session
    CHECK(reg.server.count("PUT", "/manifests/") == 0);  // no manifest whose blobs are missing
}

TEST_CASE("push: a 503 on the manifest PUT costs 1 + retries requests") {
    FakeRegistry reg;
    reg.fault = [&](const FakeRequest& r) -> std::optional<std::string> {
        if (r.method == "PUT" && r.target.starts_with("/v2/team/env/manifests/")) {
            return http_answer(503, "");
        }
        if (r.method == "HEAD" && r.target.starts_with("/v2/team/env/manifests/")) {
            return http_answer(404, "");
        }
        return std::nullopt;
    };
    Error e = push_error(reg);
    CHECK(e.kind() == ErrorKind::transient);
    CHECK(e.http_status() == 503);
    CHECK(reg.server.count("PUT", "/manifests/2") == 5);  // was 25
}
