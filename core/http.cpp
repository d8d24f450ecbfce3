#include "core/http.h"

#include <fcntl.h>
#include <unistd.h>

// The type-checking macros of <curl/curl.h> call the linked functions; these calls go through
// pointers loaded at run time instead.
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <random>
#include <regex>

#include <fmt/format.h>

#include "core/detail/lazy_library.h"
#include "core/error.h"
#include "core/strings.h"

namespace envpack {

namespace {

constexpr size_t k_error_body_cap = 64 * 1024;
constexpr size_t k_memory_body_cap = 64u << 20;  // bodies not streamed to a sink (manifests, JSON)
constexpr int k_max_redirects = 10;

// libcurl, opened on first use (core/detail/lazy_library.h).
struct CurlApi {
    decltype(&::curl_global_init) global_init;
    decltype(&::curl_url_cleanup) url_cleanup;
    decltype(&::curl_url_get) url_get;
    decltype(&::curl_url_set) url_set;
    decltype(&::curl_url) url;
    decltype(&::curl_free) free;
    decltype(&::curl_easy_getinfo) easy_getinfo;
    decltype(&::curl_slist_free_all) slist_free_all;
    decltype(&::curl_slist_append) slist_append;
    decltype(&::curl_share_init) share_init;
    decltype(&::curl_share_setopt) share_setopt;
    decltype(&::curl_share_cleanup) share_cleanup;
    decltype(&::curl_easy_cleanup) easy_cleanup;
    decltype(&::curl_easy_reset) easy_reset;
    decltype(&::curl_easy_init) easy_init;
    decltype(&::curl_easy_setopt) easy_setopt;
    decltype(&::curl_easy_perform) easy_perform;
    decltype(&::curl_easy_strerror) easy_strerror;
};

const CurlApi& curl_api() {
    static const CurlApi api = [] {
        constexpr const char* k_curl = "libcurl.so.4";
        void* lib =
            detail::open_library(k_curl, "install libcurl (Debian: apt-get install libcurl4)");
        CurlApi api{};
        detail::load_function(lib, k_curl, api.global_init, "curl_global_init");
        detail::load_function(lib, k_curl, api.url_cleanup, "curl_url_cleanup");
        detail::load_function(lib, k_curl, api.url_get, "curl_url_get");
        detail::load_function(lib, k_curl, api.url_set, "curl_url_set");
        detail::load_function(lib, k_curl, api.url, "curl_url");
        detail::load_function(lib, k_curl, api.free, "curl_free");
        detail::load_function(lib, k_curl, api.easy_getinfo, "curl_easy_getinfo");
        detail::load_function(lib, k_curl, api.slist_free_all, "curl_slist_free_all");
        detail::load_function(lib, k_curl, api.slist_append, "curl_slist_append");
        detail::load_function(lib, k_curl, api.share_init, "curl_share_init");
        detail::load_function(lib, k_curl, api.share_setopt, "curl_share_setopt");
        detail::load_function(lib, k_curl, api.share_cleanup, "curl_share_cleanup");
        detail::load_function(lib, k_curl, api.easy_cleanup, "curl_easy_cleanup");
        detail::load_function(lib, k_curl, api.easy_reset, "curl_easy_reset");
        detail::load_function(lib, k_curl, api.easy_init, "curl_easy_init");
        detail::load_function(lib, k_curl, api.easy_setopt, "curl_easy_setopt");
        detail::load_function(lib, k_curl, api.easy_perform, "curl_easy_perform");
        detail::load_function(lib, k_curl, api.easy_strerror, "curl_easy_strerror");
        return api;
    }();
    return api;
}

struct CurlGlobal {
    CurlGlobal() { curl_api().global_init(CURL_GLOBAL_DEFAULT); }
};

void ensure_curl_global() {
    static CurlGlobal global;
}

// RAII owner of a CURLU handle.
struct CurlUrl {
    CURLU* h = curl_api().url();
    ~CurlUrl() { curl_api().url_cleanup(h); }
    std::string get(CURLUPart part, unsigned flags = 0) const {
        char* out = nullptr;
        if (curl_api().url_get(h, part, &out, flags) != CURLUE_OK || out == nullptr) {
            return {};
        }
        std::string s(out);
        curl_api().free(out);
        return s;
    }
};

bool is_retryable_curl(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SEND_FAIL_REWIND:  // the connection dropped mid-upload; a new attempt re-reads
                                      // the body from its start
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return true;
        default:
            return false;
    }
}

bool is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// State of one attempt, shared with curl's callbacks.
struct Transfer {
    const HttpRequest* request = nullptr;
    HttpResponse* response = nullptr;
    CURL* handle = nullptr;
    // Download side.
    bool status_known = false;
    bool to_sink = false;
    std::uint64_t resume_from = 0;  // bytes the sink already has from earlier attempts
    bool range_requested = false;
    std::uint64_t skip = 0;       // bytes to discard (server ignored our Range)
    std::uint64_t delivered = 0;  // bytes given to the sink in this attempt
    std::exception_ptr error;     // thrown by the sink or a protocol check
    // Upload side.
    int fd = -1;
    const std::string* memory = nullptr;
    std::uint64_t read_pos = 0;
    std::uint64_t read_end = 0;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
        t->response->headers.clear();  // an interim (100) or new status line
        return line.size();
    }
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        t->response->headers.emplace(to_lower(trim(line.substr(0, colon))),
                                     std::string(trim(line.substr(colon + 1))));
    }
    return line.size();
}

void check_status(Transfer* t) {
    if (t->status_known) {
        return;
    }
    t->status_known = true;
    long status = 0;
    curl_api().easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
    t->to_sink = t->request->response_sink != nullptr && status >= 200 && status < 300;
    if (!t->to_sink || !t->range_requested) {
        return;
    }
    if (status == 206) {
        // Content-Range: bytes START-END/TOTAL must start where we asked.
        auto range = t->response->header("content-range");
        std::uint64_t start = 0;
        if (!range || std::sscanf(range->c_str(), "bytes %" SCNu64 "-", &start) != 1 ||
            start != t->resume_from) {
            throw protocol_error(
                fmt::format("resume download of {}: the server answered with range `{}`, "
                            "expected bytes {}-",
                            redact(t->request->url), range.value_or(""), t->resume_from));
        }
    } else {
        t->skip = t->resume_from;  // a full 200: drop what the sink already has
    }
}

size_t on_write(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t n = size * count;
    try {
        check_status(t);
        if (!t->to_sink) {
            if (t->request->response_sink == nullptr &&
                t->response->body.size() + n > k_memory_body_cap) {
                throw protocol_error(fmt::format(
                    "{} {}: the answer is larger than {} MiB; refusing to hold "
                    "it in memory",
                    t->request->method, redact(t->request->url), k_memory_body_cap >> 20));
            }
            if (t->request->response_sink == nullptr ||
                t->response->body.size() < k_error_body_cap) {
                t->response->body.append(data, n);
            }
            return n;
        }
        size_t offset = 0;
        if (t->skip > 0) {
            offset = static_cast<size_t>(std::min<std::uint64_t>(t->skip, n));
            t->skip -= offset;
        }
        if (offset < n) {
            t->request->response_sink->write(data + offset, n - offset);
            t->delivered += n - offset;
            if (t->request->on_progress) {
                t->request->on_progress(n - offset);
            }
        }
        return n;
    } catch (...) {
        t->error = std::current_exception();
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
}

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t want =
        static_cast<size_t>(std::min<std::uint64_t>(size * count, t->read_end - t->read_pos));
    if (want == 0) {
        return 0;
    }
    if (t->memory != nullptr) {
        std::memcpy(buffer, t->memory->data() + t->read_pos, want);
    } else {
        ssize_t got;
        do {
            got = ::pread(t->fd, buffer, want, static_cast<off_t>(t->read_pos));
        } while (got < 0 && errno == EINTR);
        if (got <= 0) {
            return CURL_READFUNC_ABORT;
        }
        want = static_cast<size_t>(got);
    }
    t->read_pos += want;
    if (t->request->on_progress) {
        t->request->on_progress(want);
    }
    return want;
}

// A file descriptor closed on scope exit.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

struct SList {
    curl_slist* list = nullptr;
    ~SList() { curl_api().slist_free_all(list); }
    void add(const std::string& line) { list = curl_api().slist_append(list, line.c_str()); }
};

std::chrono::milliseconds jittered(std::chrono::milliseconds base, int attempt) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    auto scaled = base * (1LL << std::min(attempt, 10));
    std::uniform_int_distribution<long long> jitter(0, scaled.count() / 4 + 1);
    return scaled + std::chrono::milliseconds(jitter(rng));
}

}  // namespace

std::optional<std::string> HttpResponse::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    if (it == headers.end()) {
        return std::nullopt;
    }
    return it->second;
}

struct HttpClient::Impl {
    CURLSH* share = nullptr;
    std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
    std::mutex pool_mutex;
    std::vector<CURL*> idle;  // easy handles keep their connection caches (keep-alive)

    std::once_flag share_made;

    // libcurl is loaded with the first request, not with the client: a client that never sends
    // one (a build from local files) never loads it.
    void make_share() {
        std::call_once(share_made, [this] {
            ensure_curl_global();
            share = curl_api().share_init();
            curl_api().share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
            curl_api().share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
            curl_api().share_setopt(share, CURLSHOPT_USERDATA, this);
            curl_api().share_setopt(
                share, CURLSHOPT_LOCKFUNC,
                +[](CURL*, curl_lock_data data, curl_lock_access, void* user) {
                    static_cast<Impl*>(user)->locks[data].lock();
                });
            curl_api().share_setopt(
                share, CURLSHOPT_UNLOCKFUNC, +[](CURL*, curl_lock_data data, void* user) {
                    static_cast<Impl*>(user)->locks[data].unlock();
                });
        });
    }
    ~Impl() {
        for (CURL* h : idle) {
            curl_api().easy_cleanup(h);
        }
        if (share != nullptr) {
            curl_api().share_cleanup(share);
        }
    }
    CURL* acquire() {
        make_share();
        {
            std::lock_guard lock(pool_mutex);
            if (!idle.empty()) {
                CURL* h = idle.back();
                idle.pop_back();
                curl_api().easy_reset(h);
                return h;
            }
        }
        CURL* h = curl_api().easy_init();
        if (h == nullptr) {
            throw internal_error("http: curl_easy_init failed");
        }
        return h;
    }
    void release(CURL* h) {
        std::lock_guard lock(pool_mutex);
        idle.push_back(h);
    }
};

HttpClient::HttpClient(HttpOptions options)
    : m_impl(std::make_unique<Impl>()), m_options(std::move(options)) {}

HttpClient::~HttpClient() = default;

namespace {

struct Attempt {
    CURLcode code = CURLE_OK;
    std::string curl_error;
    HttpResponse response;
    std::uint64_t delivered = 0;
    std::exception_ptr error;
    std::chrono::seconds retry_after{0};
};

Attempt perform(CURL* h, CURLSH* share, const HttpOptions& options, const HttpRequest& request,
                const std::string& method, const std::string& url,
                const std::vector<std::pair<std::string, std::string>>& headers, bool with_body,
                std::uint64_t resume_from) {
    Attempt a;
    Transfer t;
    t.request = &request;
    t.response = &a.response;
    t.handle = h;
    t.resume_from = resume_from;
    char errbuf[CURL_ERROR_SIZE] = {0};

    curl_api().easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_api().easy_setopt(h, CURLOPT_SHARE, share);
    curl_api().easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_api().easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_api().easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_api().easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_api().easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                           static_cast<long>(options.connect_timeout.count()));
    curl_api().easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_api().easy_setopt(
        h, CURLOPT_LOW_SPEED_TIME,
        std::max(1L, static_cast<long>(options.low_speed_timeout.count() / 1000)));
    curl_api().easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_api().easy_setopt(h, CURLOPT_ACCEPT_ENCODING, nullptr);
    if (!options.ca_file.empty()) {
        curl_api().easy_setopt(h, CURLOPT_CAINFO, options.ca_file.c_str());
        curl_api().easy_setopt(h, CURLOPT_CAPATH, "/etc/ssl/certs");  // keep the system CAs too
    }
    if (!request.verify_tls.value_or(options.verify_tls)) {
        curl_api().easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_api().easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    // Large buffers: fewer callbacks and syscalls for blob-sized bodies.
    curl_api().easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_api().easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
    curl_api().easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_api().easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_api().easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_api().easy_setopt(h, CURLOPT_WRITEDATA, &t);

    SList list;
    list.add("Expect:");  // no 100-continue round trip before uploads
    for (const auto& [name, value] : headers) {
        list.add(name + ": " + value);
    }
    if (resume_from > 0) {
        list.add(fmt::format("Range: bytes={}-", resume_from));
        t.range_requested = true;
    }

    Fd file;
    if (method == "HEAD") {
        curl_api().easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (with_body && (request.body || !request.body_file.empty())) {
        if (request.body) {
            t.memory = &*request.body;
            t.read_end = request.body->size();
        } else {
            file.fd = ::open(request.body_file.c_str(), O_RDONLY | O_CLOEXEC);
            if (file.fd < 0) {
                throw_errno("open upload body", request.body_file.string(), errno);
            }
            std::uint64_t end = request.body_length;
            if (end == 0) {
                off_t size = ::lseek(file.fd, 0, SEEK_END);
                end = size > 0 ? static_cast<std::uint64_t>(size) - request.body_offset : 0;
            }
            t.fd = file.fd;
            t.read_pos = request.body_offset;
            t.read_end = request.body_offset + end;
        }
        curl_api().easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_api().easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                               static_cast<curl_off_t>(t.read_end - t.read_pos));
        curl_api().easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_api().easy_setopt(h, CURLOPT_READDATA, &t);
        curl_api().easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else if (method == "GET") {
        curl_api().easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (method == "POST" || method == "PUT" || method == "PATCH") {
        // An empty body: send Content-Length: 0 explicitly (registries expect it on POST/PUT).
        curl_api().easy_setopt(h, CURLOPT_POST, 1L);
        curl_api().easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_api().easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
        curl_api().easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else {
        curl_api().easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    curl_api().easy_setopt(h, CURLOPT_HTTPHEADER, list.list);

    a.code = curl_api().easy_perform(h);
    a.error = t.error;
    a.delivered = t.delivered;
    a.curl_error = errbuf[0] != '\0' ? std::string(errbuf) : curl_api().easy_strerror(a.code);
    curl_api().easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.response.status);
    curl_off_t retry_after = 0;
    if (curl_api().easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
        retry_after > 0) {
        a.retry_after = std::chrono::seconds(retry_after);
    }
    a.response.effective_url = url;
    curl_api().easy_setopt(h, CURLOPT_SHARE, nullptr);
    curl_api().easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    return a;
}

std::string hint_for(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
            return "check the host name (and your DNS or proxy settings)";
        case CURLE_COULDNT_CONNECT:
            return "is the server running and reachable on that port?";
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
            return "pass the server's CA with --ca-cert FILE, or mark the host with "
                   "--insecure-registry HOST if it is yours";
        case CURLE_SSL_CONNECT_ERROR:
            return "the server may not speak TLS; plain HTTP needs --insecure-registry HOST "
                   "(localhost and 127.0.0.0/8 are allowed)";
        case CURLE_OPERATION_TIMEDOUT:
            return "the server stopped sending; try again, or raise the timeout";
        default:
            return {};
    }
}

}  // namespace

HttpResponse HttpClient::send(const HttpRequest& request) {
    const int retries = request.retries.value_or(m_options.retries);
    Clock& clock = m_options.clock != nullptr ? *m_options.clock : Clock::real();
    std::string method = request.method;
    std::string url = request.url;
    auto headers = request.headers;
    bool with_body = true;
    std::uint64_t delivered = 0;
    int attempt = 0;
    int redirects = 0;
    for (;;) {
        CURL* h = m_impl->acquire();
        Attempt a;
        try {
            a = perform(h, m_impl->share, m_options, request, method, url, headers, with_body,
                        delivered);
        } catch (...) {
            m_impl->release(h);
            throw;
        }
        m_impl->release(h);
        delivered += a.delivered;
        if (a.error) {
            std::rethrow_exception(a.error);
        }
        std::string what;
        std::chrono::milliseconds wait = jittered(m_options.backoff, attempt);
        if (a.code != CURLE_OK) {
            if (!is_retryable_curl(a.code) || attempt >= retries) {
                // Kind transient when another try could have helped (it was not allowed one).
                throw Error(is_retryable_curl(a.code) ? ErrorKind::transient : ErrorKind::network,
                            fmt::format("{} {}: {}", method, redact(url), a.curl_error),
                            hint_for(a.code));
            }
            what = a.curl_error;
        } else if (request.follow_redirects && is_redirect(a.response.status) &&
                   a.response.header("location")) {
            if (++redirects > k_max_redirects) {
                throw protocol_error(fmt::format("{} {}: more than {} redirects", method,
                                                 redact(url), k_max_redirects));
            }
            std::string next = resolve_url(url, *a.response.header("location"));
            if (url_origin(next) != url_origin(url)) {
                std::erase_if(headers,
                              [](const auto& kv) { return to_lower(kv.first) == "authorization"; });
            }
            if (a.response.status == 303 && method != "HEAD") {
                method = "GET";
                with_body = false;
            }
            url = std::move(next);
            continue;
        } else if (is_transient_http_status(a.response.status) && attempt < retries) {
            what = fmt::format("HTTP {}", a.response.status);
            if (a.retry_after.count() > 0) {
                wait =
                    std::min<std::chrono::milliseconds>(a.retry_after, m_options.max_retry_after);
            }
        } else {
            a.response.effective_url = url;
            a.response.attempts = attempt + 1;
            if (a.response.status == 206 && delivered > a.delivered &&
                request.response_sink != nullptr) {
                a.response.status = 200;  // our own resume: the sink got the whole body
            }
            return std::move(a.response);
        }
        ++attempt;
        if (m_options.on_retry) {
            m_options.on_retry(fmt::format("{} {}: {}, retrying in {:.1f} s ({}/{})", method,
                                           redact(url), what, wait.count() / 1000.0, attempt,
                                           retries));
        }
        clock.sleep_for(wait);
    }
}

std::string resolve_url(std::string_view base, std::string_view reference) {
    ensure_curl_global();
    CurlUrl u;
    std::string b(base);
    std::string r(reference);
    if (curl_api().url_set(u.h, CURLUPART_URL, b.c_str(), 0) != CURLUE_OK) {
        return r;
    }
    if (curl_api().url_set(u.h, CURLUPART_URL, r.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        return r;
    }
    return u.get(CURLUPART_URL);
}

std::string url_origin(std::string_view url) {
    ensure_curl_global();
    CurlUrl u;
    std::string s(url);
    if (curl_api().url_set(u.h, CURLUPART_URL, s.c_str(), 0) != CURLUE_OK) {
        return {};
    }
    return to_lower(fmt::format("{}://{}:{}", u.get(CURLUPART_SCHEME), u.get(CURLUPART_HOST),
                                u.get(CURLUPART_PORT, CURLU_DEFAULT_PORT)));
}

std::string url_host(std::string_view url) {
    ensure_curl_global();
    CurlUrl u;
    std::string s(url);
    if (curl_api().url_set(u.h, CURLUPART_URL, s.c_str(), 0) != CURLUE_OK) {
        return {};
    }
    return u.get(CURLUPART_HOST);
}

std::string redact(std::string_view text) {
    static const std::regex k_patterns[] = {
        // Authorization: Basic xxx / Bearer xxx (in header dumps)
        std::regex(R"((authorization\s*[:=]\s*)(basic|bearer)?\s*[^\s,;"]+)", std::regex::icase),
        // scheme://user:pass@host
        std::regex(R"((\w+://)[^/\s@:]+:[^/\s@]+@)"),
        // token=..., access_token=..., password=..., secret=... in query strings and JSON-ish text
        std::regex(
            R"(((?:access_|refresh_|identity)?token|password|secret|auth)(["']?\s*[=:]\s*["']?)[^&\s"',}]+)",
            std::regex::icase),
    };
    // conda channel tokens: https://host/t/TOKEN/channel
    static const std::regex k_conda_token(R"((/t/)[A-Za-z0-9_.~-]{6,}(?=/|$|\s))");
    std::string out(text);
    out = std::regex_replace(out, k_conda_token, "$1<redacted>");
    out = std::regex_replace(out, k_patterns[0], "$1$2 <redacted>");
    out = std::regex_replace(out, k_patterns[1], "$1<redacted>@");
    out = std::regex_replace(out, k_patterns[2], "$1$2<redacted>");
    return out;
}

}  // namespace envpack
