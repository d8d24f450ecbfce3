// Private to registry/client_*.cpp: restart and parallelism helpers shared by push and pull.
//
// Who retries what (one layer per failure, so failures never multiply):
//  - one request that fails transiently (connection, 408, 429, 5xx): HttpClient, up to
//    `RegistryOptions::retries` times. A 503 on a blob or manifest GET, a HEAD or a manifest PUT
//    costs 1 + retries requests, then the operation fails with kind transient.
//  - an upload session (POST, PATCH…, PUT) is stateful: its requests go with retries = 0 and
//    `with_restarts(RestartOn::session_failure)` starts the whole session over on a transient or
//    protocol failure, up to `retries` times: a 503 on a PATCH costs 1 + retries sessions.
//  - bytes that arrive wrong (digest or size mismatch, a resume at the wrong offset):
//    `with_restarts(RestartOn::wrong_bytes)` fetches again, up to `retries` times. Such a fetch
//    is a new request, and only its own transient failures are HttpClient's.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "core/http.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "registry/client.h"
#include "registry/detail/client_impl.h"
#include "registry/image.h"

namespace envpack::detail {

using nlohmann::json;

// Which failures `with_restarts` starts an operation over for.
enum class RestartOn {
    wrong_bytes,      // kind protocol only (the requests inside retry transient failures)
    session_failure,  // kinds protocol and transient (the requests inside never retry)
};

inline Clock& clock_of(const RegistryOptions& options) {
    return options.clock != nullptr ? *options.clock : Clock::real();
}

enum class BlobOutcome { skipped, mounted, uploaded };

inline std::string with_query(const std::string& url, std::string_view query) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + std::string(query);
}

inline bool is_index(std::string_view media_type, const json& j) {
    return media_type == media_type::k_oci_index ||
           media_type == media_type::k_docker_manifest_list ||
           (j.is_object() && j.contains("manifests") && !j.contains("layers"));
}

inline bool restartable(ErrorKind kind, RestartOn policy) {
    return kind == ErrorKind::protocol ||
           (policy == RestartOn::session_failure && kind == ErrorKind::transient);
}

// Runs fn() and starts it over, up to `options.retries` times, when it throws an Error whose
// kind `policy` names; sleeps backoff × 1, 2, 4, … (on `options.clock`) in between. Other
// errors pass through at once. The last failure is rethrown with its kind, naming the attempts.
template <class F>
auto with_restarts(const RegistryOptions& options, Log& log, std::string_view what,
                   RestartOn policy, F&& fn) {
    for (int attempt = 0;; ++attempt) {
        try {
            return fn();
        } catch (const Error& e) {
            if (!restartable(e.kind(), policy)) {
                throw;
            }
            if (attempt >= options.retries) {
                Error out(
                    e.kind(),
                    fmt::format("{}: {} (gave up after {} attempts)", what, e.what(), attempt + 1),
                    e.hint());
                throw e.http_status() ? out.with_http_status(*e.http_status()) : out;
            }
            auto wait = options.backoff * (1LL << std::min(attempt, 6));
            log.warn(fmt::format("{}: {}; starting over in {:.1f} s ({}/{})", what, e.what(),
                                 wait.count() / 1000.0, attempt + 1, options.retries));
            clock_of(options).sleep_for(wait);
        }
    }
}

// Runs jobs on a pool of `parallel` threads; waits for all; rethrows the first failure. Once a
// job has failed, jobs not yet started are skipped.
inline void run_parallel(unsigned parallel, std::vector<std::function<void()>> jobs) {
    if (jobs.empty()) {
        return;
    }
    auto failed = std::make_shared<std::atomic<bool>>(false);
    ThreadPool pool(std::max(1u, std::min<unsigned>(parallel, static_cast<unsigned>(jobs.size()))));
    std::vector<std::future<void>> futures;
    futures.reserve(jobs.size());
    for (auto& job : jobs) {
        futures.push_back(pool.submit([failed, job = std::move(job)] {
            if (failed->load()) {
                return;
            }
            try {
                job();
            } catch (...) {
                failed->store(true);
                throw;
            }
        }));
    }
    std::exception_ptr first;
    for (auto& f : futures) {
        try {
            f.get();
        } catch (...) {
            if (!first) {
                first = std::current_exception();
            }
        }
    }
    if (first) {
        std::rethrow_exception(first);
    }
}

// The error for an unexpected answer: names the request and the registry's error body; kind from
// the status (core/error.h), carrying the status. `hint` is used when given.
inline Error status_error(std::string_view operation, const HttpRequest& req, const HttpResponse& r,
                          std::string hint = {}) {
    std::string detail = describe_error_body(r);
    std::string message =
        fmt::format("{}: {} {} answered HTTP {}{}{}", operation, req.method, redact(req.url),
                    r.status, detail.empty() ? "" : ": ", detail);
    if (r.attempts > 1) {
        message += fmt::format(" (after {} attempts)", r.attempts);
    }
    return Error(error_kind_for_http_status(r.status), std::move(message), std::move(hint))
        .with_http_status(r.status);
}

// The error for an unexpected answer inside an upload session. 400 (BLOB_UPLOAD_INVALID,
// DIGEST_INVALID) and 416 (a lost chunk) mean the session's bytes went wrong on the way: kind
// protocol, so the session is started over.
inline Error session_status_error(std::string_view operation, const HttpRequest& req,
                                  const HttpResponse& r) {
    Error e = status_error(operation, req, r);
    if (r.status == 400 || r.status == 416) {
        return Error(ErrorKind::protocol, e.what(), e.hint()).with_http_status(r.status);
    }
    return e;
}

}  // namespace envpack::detail
