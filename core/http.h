// HTTP over libcurl, for channels (repodata, packages) and registries.
//
// One `HttpClient` per process (it owns a curl share handle for DNS/TLS session reuse); each
// request is independent and thread-safe. Retries with backoff happen on connection errors,
// 408, 429 (honouring Retry-After) and 5xx, up to `HttpOptions::retries`.
// Credentials passed in headers are never logged: `redact()` is applied to anything printed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
    std::function<void(std::uint64_t)> on_progress;  // bytes received so far (delta)
};

struct HttpResponse {
    long status = 0;
    std::multimap<std::string, std::string> headers;  // lower-cased names
    std::string body;                                 // unless streamed to a sink
    std::string effective_url;
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

// Replaces credentials in a string (Authorization values, user:pass@ in URLs, token= parameters).
std::string redact(std::string_view text);

}  // namespace envpack
