// Private to registry/client_*.cpp: retry and parallelism helpers shared by push and pull.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/http.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "registry/client.h"
#include "registry/detail/client_impl.h"
#include "registry/image.h"

namespace envpack::detail {

using nlohmann::json;

// A failure worth starting a blob transfer over for (5xx, dropped connection, wrong bytes).
class RetryableError : public Error {
  public:
    using Error::Error;
};

enum class BlobOutcome { skipped, mounted, uploaded };

inline std::string with_query(const std::string& url, std::string_view query) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + std::string(query);
}

inline bool is_index(std::string_view media_type, const json& j) {
    return media_type == media_type::k_oci_index ||
           media_type == media_type::k_docker_manifest_list ||
           (j.is_object() && j.contains("manifests") && !j.contains("layers"));
}

// Runs fn() with up to `retries` restarts on RetryableError, sleeping with backoff between.
template <class F>
auto with_retries(const RegistryOptions& options, Log& log, std::string_view what, F&& fn) {
    for (int attempt = 0;; ++attempt) {
        try {
            return fn();
        } catch (const RetryableError& e) {
            if (attempt >= options.retries) {
                throw Error(
                    fmt::format("{}: {} (gave up after {} attempts)", what, e.what(), attempt + 1),
                    e.hint());
            }
            auto wait = options.backoff * (1LL << std::min(attempt, 6));
            log.warn(fmt::format("{}: {}; starting over in {:.1f} s ({}/{})", what, e.what(),
                                 wait.count() / 1000.0, attempt + 1, options.retries));
            std::this_thread::sleep_for(wait);
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

inline std::string status_error(std::string_view operation, const HttpRequest& req,
                                const HttpResponse& r) {
    std::string detail = describe_error_body(r);
    return fmt::format("{}: {} {} answered HTTP {}{}{}", operation, req.method, redact(req.url),
                       r.status, detail.empty() ? "" : ": ", detail);
}

inline bool transient_status(long status) {
    return status == 408 || status == 429 || status >= 500 || status == 400;
}

}  // namespace envpack::detail
