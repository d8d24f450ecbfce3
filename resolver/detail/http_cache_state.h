// What the last fetch of a cached HTTP file said, kept beside the copy (`state.json`), for the
// repodata fetcher (channel.cpp) and the shard index fetcher (shard_fetch.cpp): validators for a
// conditional request, and how long the copy is fresh (Cache-Control max-age, else a default).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace envpack {
struct HttpRequest;
struct HttpResponse;
}  // namespace envpack

namespace envpack::detail {

struct HttpCacheState {
    std::string url;
    std::string variant;  // which of several files answered (repodata.json.zst, ...); "" if one
    std::string etag;
    std::string last_modified;
    std::int64_t max_age = 0;
    std::int64_t fetched_at = 0;  // seconds since the epoch

    // nullopt when the file is missing or damaged (a cache miss).
    static std::optional<HttpCacheState> load(const std::filesystem::path& file);
    void save(const std::filesystem::path& file) const;

    // The state `response` gives (validators, max-age or `default_max_age`), fetched now. For a
    // 304, validators the answer leaves out are taken from `previous`.
    static HttpCacheState from_response(const HttpResponse& response, std::int64_t default_max_age,
                                        const HttpCacheState* previous = nullptr);

    bool fresh() const;
    // If-None-Match / If-Modified-Since for a conditional request.
    void add_validators(HttpRequest& request) const;
};

}  // namespace envpack::detail
