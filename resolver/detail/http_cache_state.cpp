#include "resolver/detail/http_cache_state.h"

#include <cstdlib>
#include <ctime>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/http.h"

namespace envpack::detail {

namespace {

std::int64_t now_seconds() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

// `max-age=N` from a Cache-Control header; 0 for no-cache/no-store; nullopt when absent.
std::optional<std::int64_t> max_age_of(const HttpResponse& r) {
    auto cc = r.header("cache-control");
    if (!cc) {
        return std::nullopt;
    }
    if (cc->find("no-cache") != std::string::npos || cc->find("no-store") != std::string::npos) {
        return 0;
    }
    auto pos = cc->find("max-age=");
    if (pos == std::string::npos) {
        return std::nullopt;
    }
    return std::strtoll(cc->c_str() + pos + 8, nullptr, 10);
}

}  // namespace

std::optional<HttpCacheState> HttpCacheState::load(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
        return std::nullopt;
    }
    try {
        auto j = nlohmann::json::parse(read_file(file));
        HttpCacheState s;
        s.url = j.value("url", "");
        s.variant = j.value("variant", "");
        s.etag = j.value("etag", "");
        s.last_modified = j.value("last_modified", "");
        s.max_age = j.value("max_age", std::int64_t{0});
        s.fetched_at = j.value("fetched_at", std::int64_t{0});
        return s;
    } catch (const std::exception&) {
        return std::nullopt;  // a damaged state file is a cache miss
    }
}

void HttpCacheState::save(const std::filesystem::path& file) const {
    nlohmann::json j{{"url", url},         {"variant", variant},
                     {"etag", etag},       {"last_modified", last_modified},
                     {"max_age", max_age}, {"fetched_at", fetched_at}};
    write_file_atomic(file, j.dump(2) + "\n", Durability::none);
}

HttpCacheState HttpCacheState::from_response(const HttpResponse& response,
                                             std::int64_t default_max_age,
                                             const HttpCacheState* previous) {
    HttpCacheState s;
    s.etag = response.header("etag").value_or("");
    s.last_modified = response.header("last-modified").value_or("");
    s.max_age = max_age_of(response).value_or(default_max_age);
    s.fetched_at = now_seconds();
    if (previous != nullptr) {
        if (s.etag.empty()) {
            s.etag = previous->etag;
        }
        if (s.last_modified.empty()) {
            s.last_modified = previous->last_modified;
        }
    }
    return s;
}

bool HttpCacheState::fresh() const {
    return fetched_at + max_age > now_seconds();
}

void HttpCacheState::add_validators(HttpRequest& request) const {
    if (!etag.empty()) {
        request.headers.emplace_back("If-None-Match", etag);
    }
    if (!last_modified.empty()) {
        request.headers.emplace_back("If-Modified-Since", last_modified);
    }
}

}  // namespace envpack::detail
