// The client against a small in-process HTTP server on 127.0.0.1 (tests/lib/fake_http_server.h):
// tags pagination (Link headers, relative and absolute), cross-origin redirects without
// Authorization, and the remote_has_tag / resolve calls the builder uses for the build cache.
// Retry counts and back-off: test_client_retries.cpp and tests/unit/core/test_http_retries.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/http.h"
#include "fake_http_server.h"
#include "registry/client.h"

using namespace envpack;
using Request = envpack::test::FakeRequest;
using FakeServer = envpack::test::FakeHttpServer;

namespace {

std::string respond(int status, const std::string& body, const std::string& extra = "") {
    return envpack::test::http_answer(status, body, extra);
}

}  // namespace

TEST_CASE("tags list follows Link headers - relative and absolute") {
    FakeServer server([](const Request& r, int port) {
        if (r.target == "/v2/") {
            return respond(200, "{}");
        }
        if (r.target == "/v2/team/env/tags/list?n=1000") {
            return respond(200, R"({"name":"team/env","tags":["a","b"]})",
                           "Link: </v2/team/env/tags/list?n=1000&last=b>; rel=\"next\"\r\n");
        }
        if (r.target == "/v2/team/env/tags/list?n=1000&last=b") {
            return respond(
                200, R"({"name":"team/env","tags":["c"]})",
                fmt::format("Link: <http://127.0.0.1:{}/v2/team/env/tags/list?n=1000&last=c>; "
                            "rel=\"next\"\r\n",
                            port));
        }
        if (r.target == "/v2/team/env/tags/list?n=1000&last=c") {
            return respond(200, R"({"name":"team/env","tags":["d"]})");
        }
        return respond(404, R"({"errors":[{"code":"NAME_UNKNOWN","message":"no"}]})");
    });
    RegistryClient client;
    auto tags =
        client.list_tags(ImageRef::parse(fmt::format("127.0.0.1:{}/team/env", server.port())));
    CHECK(tags == std::vector<std::string>{"a", "b", "c", "d"});
    CHECK(client.list_tags(ImageRef::parse(fmt::format("127.0.0.1:{}/none/here", server.port())))
              .empty());
}

TEST_CASE("redirects keep Authorization on the same origin and drop it across origins") {
    FakeServer target([](const Request& r, int) { return respond(200, "blob-bytes"); });
    FakeServer origin([&](const Request& r, int port) {
        if (r.target == "/same") {
            return fmt::format(
                "HTTP/1.1 307 X\r\nLocation: /final\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n");
        }
        if (r.target == "/final") {
            return respond(200, "same-origin");
        }
        return fmt::format(
            "HTTP/1.1 307 X\r\nLocation: http://127.0.0.1:{}/bucket/blob?sig=1\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n",
            target.port());
    });
    HttpClient http;
    HttpRequest req;
    req.url = fmt::format("http://127.0.0.1:{}/same", origin.port());
    req.headers.emplace_back("Authorization", "Bearer sekrit");
    HttpResponse r = http.send(req);
    CHECK(r.status == 200);
    CHECK(r.body == "same-origin");
    auto reqs = origin.requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[1].headers.find("Authorization: Bearer sekrit") != std::string::npos);

    req.url = fmt::format("http://127.0.0.1:{}/v2/x/blobs/sha256:abc", origin.port());
    r = http.send(req);
    CHECK(r.status == 200);
    CHECK(r.body == "blob-bytes");
    CHECK(r.effective_url.find(std::to_string(target.port())) != std::string::npos);
    auto treqs = target.requests();
    REQUIRE(treqs.size() == 1);
    CHECK(treqs[0].headers.find("Authorization") == std::string::npos);
}

TEST_CASE("remote_has_tag and resolve: HEAD with a digest - GET when the HEAD has none - 404") {
    const std::string body = R"({"schemaVersion":2,"config":{},"layers":[]})";
    const std::string digest = Digest::of(body).to_string();
    FakeServer server([&](const Request& r, int) {
        if (r.target == "/v2/") {
            return respond(200, "{}");
        }
        if (r.target == "/v2/team/env/manifests/cache-hit") {
            return respond(200, r.method == "HEAD" ? "" : body,
                           fmt::format("Docker-Content-Digest: {}\r\n", digest));
        }
        if (r.target == "/v2/team/env/manifests/no-digest-header") {
            return respond(200, r.method == "HEAD" ? "" : body);
        }
        return respond(404,
                       R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})");
    });
    std::string base = fmt::format("127.0.0.1:{}/team/env", server.port());
    CHECK(remote_has_tag(ImageRef::parse(base + ":cache-hit")));
    CHECK_FALSE(remote_has_tag(ImageRef::parse(base + ":azureml_0123")));
    RegistryClient client;
    auto d = client.resolve(ImageRef::parse(base + ":no-digest-header"));
    REQUIRE(d);
    CHECK(d->digest.to_string() == digest);
    CHECK(d->size == static_cast<std::int64_t>(body.size()));
    auto reqs = server.requests();
    CHECK(std::count_if(reqs.begin(), reqs.end(), [](const Request& r) {
              return r.method == "GET" && r.target.find("no-digest-header") != std::string::npos;
          }) == 1);
}
