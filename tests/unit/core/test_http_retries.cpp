// HttpClient is the one owner of retries for single requests: against an in-process server on
// port 0 and a fake clock (no real sleeping), the number of requests each failure costs, the
// back-off it sleeps, and the kind of the error it ends with.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <atomic>

#include "core/compress.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/http.h"
#include "fake_clock.h"
#include "fake_http_server.h"

using namespace envpack;
using namespace envpack::test;
using std::chrono::milliseconds;

namespace {

HttpOptions options_with(FakeClock& clock, int retries = 4) {
    HttpOptions o;
    o.clock = &clock;
    o.retries = retries;
    o.backoff = milliseconds(500);
    return o;
}

HttpRequest get(const FakeHttpServer& server, const std::string& path) {
    HttpRequest r;
    r.url = server.base() + path;
    return r;
}

// Sends GET `path` with the body streamed to `sink`.
HttpResponse get_to(HttpClient& http, const FakeHttpServer& server, const std::string& path,
                    StringSink& sink) {
    HttpRequest req = get(server, path);
    req.response_sink = &sink;
    return http.send(req);
}

// The Error `send` ends with (the test fails when it returns).
Error error_of(HttpClient& http, const FakeHttpServer& server, const std::string& path) {
    StringSink sink;
    try {
        get_to(http, server, path, sink);
    } catch (const Error& e) {
        return e;
    }
    FAIL("expected an Error");
    return Error("unreachable");
}

std::string body_of(size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        s += static_cast<char>('a' + i % 26);
    }
    return s;
}

}  // namespace

TEST_CASE("a 503 costs 1 + retries requests and doubling back-off - then the answer is returned") {
    FakeHttpServer server([](const FakeRequest&, int) { return http_answer(503, "busy"); });
    FakeClock clock;
    HttpClient http(options_with(clock, 4));
    HttpResponse r = http.send(get(server, "/x"));
    CHECK(r.status == 503);
    CHECK(r.attempts == 5);
    CHECK(server.count("GET", "/x") == 5);
    auto sleeps = clock.sleeps();
    REQUIRE(sleeps.size() == 4);
    for (size_t i = 0; i < sleeps.size(); ++i) {
        milliseconds base = milliseconds(500) * (1 << i);
        CHECK(sleeps[i] >= base);
        CHECK(sleeps[i] <= base + base / 4 + milliseconds(1));  // at most 25 % jitter
    }
}

TEST_CASE("request.retries overrides the options - 0 means one request") {
    FakeHttpServer server([](const FakeRequest&, int) { return http_answer(502, ""); });
    FakeClock clock;
    HttpClient http(options_with(clock, 4));
    HttpRequest req = get(server, "/y");
    req.retries = 0;
    CHECK(http.send(req).status == 502);
    CHECK(server.count("GET", "/y") == 1);
    CHECK(clock.sleeps().empty());
}

TEST_CASE("statuses that are not transient are answered at once") {
    for (int status : {400, 401, 403, 404, 501, 505}) {
        FakeHttpServer server([&](const FakeRequest&, int) { return http_answer(status, "{}"); });
        FakeClock clock;
        HttpClient http(options_with(clock));
        CHECK(http.send(get(server, "/z")).status == status);
        CHECK(server.count("GET", "/z") == 1);
        CHECK(clock.sleeps().empty());
    }
}

TEST_CASE("429 with Retry-After waits what the server asks - capped by max_retry_after") {
    std::atomic<int> calls{0};
    FakeHttpServer server([&](const FakeRequest&, int) {
        if (++calls <= 2) {
            return http_answer(429, "", "Retry-After: 7\r\n");
        }
        return http_answer(200, "ok");
    });
    FakeClock clock;
    std::vector<std::string> messages;
    HttpOptions o = options_with(clock);
    o.on_retry = [&](const std::string& m) { messages.push_back(m); };
    HttpClient http(o);
    HttpResponse r = http.send(get(server, "/limited"));
    CHECK(r.status == 200);
    CHECK(r.body == "ok");
    CHECK(r.attempts == 3);
    CHECK(server.count("GET", "/limited") == 3);
    CHECK(clock.sleeps() == std::vector<milliseconds>{milliseconds(7000), milliseconds(7000)});
    REQUIRE(messages.size() == 2);
    CHECK(messages[0].find("HTTP 429, retrying in 7.0 s (1/4)") != std::string::npos);

    calls = 0;
    FakeClock clock2;
    HttpOptions capped = options_with(clock2);
    capped.max_retry_after = std::chrono::seconds(2);
    HttpClient http2(capped);
    CHECK(http2.send(get(server, "/limited")).status == 200);
    CHECK(clock2.sleeps() == std::vector<milliseconds>{milliseconds(2000), milliseconds(2000)});
}

TEST_CASE("a dropped body is resumed with Range - the sink sees every byte once") {
    const std::string blob = body_of(100000);
    FakeHttpServer server([&](const FakeRequest& r, int) {
        std::string range = r.header("range");
        if (range.empty()) {
            return http_dropped_answer(200, blob, 30000);
        }
        REQUIRE(range == "bytes=30000-");
        return http_answer(
            206, blob.substr(30000),
            fmt::format("Content-Range: bytes 30000-{}/{}\r\n", blob.size() - 1, blob.size()),
            "application/octet-stream");
    });
    FakeClock clock;
    HttpClient http(options_with(clock));
    StringSink sink;
    HttpResponse r = get_to(http, server, "/blob", sink);
    CHECK(r.status == 200);  // our own resume: the caller sees the whole body
    CHECK(sink.data() == blob);
    CHECK(server.count("GET", "/blob") == 2);
    CHECK(clock.sleeps().size() == 1);
}

TEST_CASE("a server that ignores Range: the bytes the sink has are skipped") {
    const std::string blob = body_of(50000);
    std::atomic<int> calls{0};
    FakeHttpServer server([&](const FakeRequest&, int) {
        return ++calls == 1 ? http_dropped_answer(200, blob, 12345)
                            : http_answer(200, blob, "", "application/octet-stream");
    });
    FakeClock clock;
    HttpClient http(options_with(clock));
    StringSink sink;
    CHECK(get_to(http, server, "/blob", sink).status == 200);
    CHECK(sink.data() == blob);
    CHECK(server.count("GET", "/blob") == 2);
}

TEST_CASE("a body dropped every time: 1 + retries requests - then kind transient") {
    const std::string blob = body_of(10000);
    FakeHttpServer server([&](const FakeRequest& r, int) {
        if (r.header("range").empty()) {
            return http_dropped_answer(200, blob, 100);
        }
        return std::string();  // hang up before any answer
    });
    FakeClock clock;
    HttpClient http(options_with(clock, 3));
    Error e = error_of(http, server, "/flaky");
    CHECK(e.kind() == ErrorKind::transient);
    CHECK(e.code() == ExitCode::failure);
    CHECK(std::string(e.what()).find("/flaky") != std::string::npos);
    CHECK(server.count("GET", "/flaky") == 4);
    CHECK(clock.sleeps().size() == 3);
}

TEST_CASE("a resume answered at the wrong offset is kind protocol - not retried again") {
    const std::string blob = body_of(20000);
    FakeHttpServer server([&](const FakeRequest& r, int) {
        if (r.header("range").empty()) {
            return http_dropped_answer(200, blob, 5000);
        }
        return http_answer(206, blob, "Content-Range: bytes 0-19999/20000\r\n",
                           "application/octet-stream");
    });
    FakeClock clock;
    HttpClient http(options_with(clock));
    Error e = error_of(http, server, "/ranged");
    CHECK(e.kind() == ErrorKind::protocol);
    CHECK(std::string(e.what()).find("resume download") != std::string::npos);
    CHECK(server.count("GET", "/ranged") == 2);
}

TEST_CASE("connection refused: retried - then kind transient") {
    // A socket bound but not listening: connecting is refused, and no one else can take the port.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    FakeClock clock;
    HttpClient http(options_with(clock, 2));
    HttpRequest req;
    req.url = fmt::format("http://127.0.0.1:{}/v2/", ntohs(addr.sin_port));
    try {
        http.send(req);
        FAIL("expected an Error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::transient);
        CHECK(e.hint().find("reachable") != std::string::npos);
    }
    CHECK(clock.sleeps().size() == 2);
    ::close(fd);
}

TEST_CASE("a host that does not resolve is kind network - not retried") {
    FakeClock clock;
    HttpClient http(options_with(clock));
    HttpRequest req;
    req.url = "http://envpack-test.invalid/v2/";
    try {
        http.send(req);
        FAIL("expected an Error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::network);
    }
    CHECK(clock.sleeps().empty());
}
