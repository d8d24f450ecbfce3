// HTTP over libcurl, for channels (repodata, packages) and registries.
//
// An `HttpClient` owns a curl share handle (DNS and TLS session reuse) and a pool of easy handles
// (kept-alive connections); `send` is thread-safe and each request is independent.
//
// This class is the one owner of retries for single requests: a connection error (refused, reset,
// timed out, dropped mid-body), 408, 429 and 5xx (but 501/505) are sent again after a back-off,
// up to `retries` extra times, so one request costs at most 1 + retries attempts (5 with the
// defaults) and sleeps backoff × 1, 2, 4, … (+ up to 25 % jitter), or the server's Retry-After
// (capped at `max_retry_after`). The back-off uses `HttpOptions::clock` (tests pass a fake).
// Callers must not wrap `send` in a retry loop of their own for those failures; a caller that
// restarts a multi-request exchange as a whole (an upload session) sends its requests with
// `retries = 0`. Errors thrown carry a kind (core/error.h): transient when a retryable failure
// outlasted the retries, network for failures not worth retrying (DNS, TLS), protocol when the
// server broke the protocol (a resume answered at the wrong offset, too many redirects, a body
// too large to hold). Credentials passed in headers are never logged: `redact()` is applied to
// anything printed.
//
// Streamed downloads (`response_sink`) survive a dropped connection: the retry asks for the rest
// with `Range: bytes=N-` (or skips the first N bytes when the server ignores ranges), so the sink
// sees every byte exactly once. Bodies of non-2xx responses never reach the sink; they land in
// `HttpResponse::body` (capped at 64 KiB) for error messages. A body held in memory (no sink) over
// 64 MiB aborts the request. Redirects are followed by this class, not by curl, so the
// `Authorization` header is dropped when a redirect leaves the original scheme://host:port
// (blob downloads redirected to object storage never see registry credentials).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/fs.h"

namespace envpack {

struct HttpOptions {
    int retries = 4;                         // extra attempts after the first
    std::chrono::milliseconds backoff{500};  // first backoff, doubled each retry
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds low_speed_timeout{30000};  // abort if < 1 byte/s for this long
    std::string ca_file;                                 // extra CA bundle (--ca-cert)
    bool verify_tls = true;
    std::string user_agent = "envpack/0.1";
    std::chrono::seconds max_retry_after{60};  // cap on a server's Retry-After
    // Called (already redacted) before each retry: "GET URL: 503, retrying in 1.0 s (2/4)".
    std::function<void(const std::string&)> on_retry;
    Clock* clock = nullptr;  // paces the back-off; nullptr: Clock::real()
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<std::string> body;                 // request body held in memory
    std::filesystem::path body_file;                 // or streamed from a file
    std::uint64_t body_offset = 0, body_length = 0;  // range of body_file (length 0 = to end)
    bool follow_redirects = true;                    // never forwards Authorization cross-host
    Sink* response_sink = nullptr;                   // stream the body here instead of `body`
    std::function<void(std::uint64_t)> on_progress;  // body bytes sent or received (delta)
    std::optional<int> retries;                      // overrides HttpOptions::retries
    std::optional<bool> verify_tls;                  // overrides HttpOptions::verify_tls
};

struct HttpResponse {
    long status = 0;
    std::multimap<std::string, std::string> headers;  // lower-cased names
    std::string body;                                 // unless streamed to a sink
    std::string effective_url;
    int attempts = 1;  // requests sent for this answer (1 + retries used), redirects not counted
    std::optional<std::string> header(const std::string& lower_name) const;
};

class HttpClient {
  public:
    explicit HttpClient(HttpOptions options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Performs the request with retries. Returns the final response (any status); throws Error
    // only when no response could be had (naming the URL and curl's reason).
    HttpResponse send(const HttpRequest& request);
    const HttpOptions& options() const { return m_options; }

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    HttpOptions m_options;
};

// Resolves `reference` (absolute, or relative as in a Location header) against `base`.
std::string resolve_url(std::string_view base, std::string_view reference);
// "scheme://host:port" of a URL (the port filled in from the scheme), lower-cased; "" if invalid.
std::string url_origin(std::string_view url);
// The host part of a URL ("127.0.0.1", "example.com"); "" if invalid.
std::string url_host(std::string_view url);

// Replaces credentials in a string (Authorization values, user:pass@ in URLs, token= parameters).
std::string redact(std::string_view text);

}  // namespace envpack
