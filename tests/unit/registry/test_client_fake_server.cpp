// The client against a small in-process HTTP server on 127.0.0.1: tags pagination (Link headers,
// relative and absolute), cross-origin redirects without Authorization, Retry-After, and the
// remote_has_tag / resolve calls the builder uses for the build cache.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/http.h"
#include "registry/client.h"

using namespace envpack;

namespace {

struct Request {
    std::string method, target, headers;
};

// One connection per request (Connection: close); `handler` returns the whole response text.
class FakeServer {
  public:
    explicit FakeServer(std::function<std::string(const Request&, int port)> handler)
        : m_handler(std::move(handler)) {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        socklen_t len = sizeof addr;
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len);
        m_port = ntohs(addr.sin_port);
        ::listen(m_fd, 16);
        m_thread = std::thread([this] { loop(); });
    }
    ~FakeServer() {
        m_stop = true;
        ::shutdown(m_fd, SHUT_RDWR);
        ::close(m_fd);
        m_thread.join();
    }
    int port() const { return m_port; }
    std::vector<Request> requests() {
        std::lock_guard lock(m_mutex);
        return m_requests;
    }

  private:
    void loop() {
        while (!m_stop) {
            int c = ::accept(m_fd, nullptr, nullptr);
            if (c < 0) {
                return;
            }
            std::string data;
            char buf[4096];
            while (data.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = ::read(c, buf, sizeof buf);
                if (n <= 0) {
                    break;
                }
                data.append(buf, static_cast<size_t>(n));
                if (data[0] == '\x16') {
                    break;  // a TLS ClientHello (the https probe): hang up like a plain server
                }
            }
            if (!data.empty() && data[0] == '\x16') {
                ::close(c);
                continue;
            }
            Request r;
            auto sp1 = data.find(' ');
            auto sp2 = data.find(' ', sp1 + 1);
            r.method = data.substr(0, sp1);
            r.target = data.substr(sp1 + 1, sp2 - sp1 - 1);
            r.headers = data.substr(0, data.find("\r\n\r\n"));
            {
                std::lock_guard lock(m_mutex);
                m_requests.push_back(r);
            }
            std::string out = m_handler(r, m_port);
            (void)!::write(c, out.data(), out.size());
            ::close(c);
        }
    }
    std::function<std::string(const Request&, int)> m_handler;
    int m_fd = -1;
    int m_port = 0;
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
    std::mutex m_mutex;
    std::vector<Request> m_requests;
};

std::string respond(int status, const std::string& body, const std::string& extra = "") {
    return fmt::format(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\n"
        "Docker-Distribution-API-Version: registry/2.0\r\n{}Content-Length: {}\r\n"
        "Connection: close\r\n\r\n{}",
        status, extra, body.size(), body);
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

TEST_CASE("retries honour Retry-After and give up after `retries`") {
    std::atomic<int> calls{0};
    FakeServer server([&](const Request&, int) {
        if (++calls <= 2) {
            return std::string(
                "HTTP/1.1 429 X\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: "
                "close\r\n\r\n");
        }
        return respond(200, "ok");
    });
    HttpOptions o;
    o.backoff = std::chrono::milliseconds(1);
    std::vector<std::string> messages;
    o.on_retry = [&](const std::string& m) { messages.push_back(m); };
    HttpClient http(o);
    HttpRequest req;
    req.url = fmt::format("http://127.0.0.1:{}/x", server.port());
    auto start = std::chrono::steady_clock::now();
    HttpResponse r = http.send(req);
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(r.status == 200);
    CHECK(calls == 3);
    CHECK(elapsed >= std::chrono::milliseconds(1900));
    REQUIRE(messages.size() == 2);
    CHECK(messages[0].find("HTTP 429, retrying in 1.0 s (1/4)") != std::string::npos);

    calls = -100;  // always 429 now
    req.retries = 1;
    HttpOptions quick;
    quick.backoff = std::chrono::milliseconds(1);
    quick.max_retry_after = std::chrono::seconds(0);
    HttpClient http2(quick);
    CHECK(http2.send(req).status == 429);
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
