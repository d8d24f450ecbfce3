#include "resolver/shard_fetch.h"

#include <cstdlib>

#include <fmt/format.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/http.h"
#include "core/log.h"
#include "core/netrc.h"
#include "resolver/detail/http_cache_state.h"

namespace envpack {
namespace {

constexpr std::string_view k_index_file = "repodata_shards.msgpack.zst";
constexpr std::string_view k_file_scheme = "file://";

using IndexState = detail::HttpCacheState;

bool is_file_url(std::string_view url) {
    return url.starts_with(k_file_scheme);
}

std::filesystem::path file_url_path(std::string_view url) {
    return std::filesystem::path(url.substr(k_file_scheme.size()));
}

// Fills the URLs of a parsed index fetched from `subdir_url`.
ShardedSubdir make_subdir(const Channel& channel, std::string_view subdir, ShardIndex index,
                          std::string index_url) {
    ShardedSubdir s;
    s.channel = channel.name();
    s.subdir = std::string(subdir);
    s.index_url = std::move(index_url);
    const std::string base = channel.subdir_url(subdir);
    s.shards_url = join_shard_url(base, index.shards_base_url);
    std::string packages = index.base_url.empty() ? base : join_shard_url(base, index.base_url);
    while (packages.ends_with('/')) {
        packages.pop_back();
    }
    s.origin = RepodataOrigin{channel.name(),
                              index.subdir.empty() ? std::string(subdir) : index.subdir, packages};
    s.index = std::move(index);
    return s;
}

void remove_quietly(const std::filesystem::path& p) {
    std::error_code ec;
    std::filesystem::remove(p, ec);
}

}  // namespace

ShardFetcher::ShardFetcher(FetchOptions options, HttpClient* http, Log& log)
    : m_options(std::move(options)), m_http(http), m_log(log) {}

std::optional<ShardedSubdir> ShardFetcher::open(const Channel& channel, std::string_view subdir) {
    if (channel.kind() == Channel::Kind::local) {
        return open_local(channel, subdir);
    }
    return open_remote(channel, subdir);
}

std::optional<ShardedSubdir> ShardFetcher::open_local(const Channel& channel,
                                                      std::string_view subdir) {
    const std::filesystem::path file = channel.local_dir() / subdir / k_index_file;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
        return std::nullopt;
    }
    const std::string source = file.string();
    ShardIndex index = ShardIndex::parse(decompress_shard_file(read_file(file), source), source);
    return make_subdir(channel, subdir, std::move(index), source);
}

std::optional<ShardedSubdir> ShardFetcher::open_remote(const Channel& channel,
                                                       std::string_view subdir) {
    if (m_options.cache_dir.empty()) {
        return std::nullopt;
    }
    const std::string base = channel.subdir_url(subdir);
    const std::string url = base + "/" + std::string(k_index_file);
    const std::filesystem::path entry =
        m_options.cache_dir / Digest::of("shards:" + base).hex().substr(0, 16);
    const std::filesystem::path index_path = entry / k_index_file;
    const std::filesystem::path state_path = entry / "state.json";
    make_dirs(entry);
    FileLock lock(entry / "lock", LockMode::exclusive);
    std::optional<IndexState> state = IndexState::load(state_path);
    std::error_code ec;
    const bool cached = state && std::filesystem::is_regular_file(index_path, ec);
    auto use_cached = [&]() {
        auto s = make_subdir(
            channel, subdir,
            ShardIndex::parse(decompress_shard_file(read_file(index_path), url),
                              fmt::format("{} (cached as {})", redact(url), index_path.string())),
            url);
        s.index_cache = entry;
        return s;
    };
    if (m_options.offline == Offline::yes) {
        return cached ? std::optional(use_cached()) : std::nullopt;
    }
    if (cached && state->fresh()) {
        m_log.debug(fmt::format("shard index `{}`: cached copy is fresh", redact(url)));
        return use_cached();
    }
    if (m_http == nullptr) {
        return std::nullopt;
    }
    HttpRequest request = netrc_request(url);
    if (cached) {
        state->add_validators(request);
    } else {
        request.retries = 0;  // a probe: most channels have no shards
    }
    HttpResponse response;
    try {
        response = m_http->send(request);
    } catch (const Error& e) {
        if (cached) {
            m_log.warn(fmt::format("{}; using the cached shard index", e.what()));
            return use_cached();
        }
        m_log.debug(
            fmt::format("shard index `{}`: {}; reading repodata.json", redact(url), e.what()));
        return std::nullopt;
    }
    const bool not_modified = response.status == 304 && cached;
    const IndexState next = IndexState::from_response(response, m_options.default_max_age.count(),
                                                      not_modified ? &*state : nullptr);
    if (not_modified) {
        next.save(state_path);
        return use_cached();
    }
    if (response.status == 200) {
        ShardIndex index =
            ShardIndex::parse(decompress_shard_file(response.body, url), redact(url));
        write_file_atomic(index_path, response.body, Durability::none);
        next.save(state_path);
        auto s = make_subdir(channel, subdir, std::move(index), url);
        s.index_cache = entry;
        return s;
    }
    if (cached && response.status != 404) {
        m_log.warn(fmt::format("shard index `{}`: HTTP {}; using the cached copy", redact(url),
                               response.status));
        return use_cached();
    }
    m_log.debug(fmt::format("shard index `{}`: HTTP {}; reading repodata.json", redact(url),
                            response.status));
    return std::nullopt;
}

std::vector<PackageRecord> ShardFetcher::records(const ShardedSubdir& subdir,
                                                 std::string_view name) {
    auto it = subdir.index.shards.find(name);
    if (it == subdir.index.shards.end()) {
        return {};
    }
    const std::string& hex = it->second;
    const std::string url = subdir.shards_url + hex + ".msgpack.zst";
    const std::string bytes = shard_bytes(subdir, name, hex);
    auto records =
        parse_shard(decompress_shard_file(bytes, redact(url)), redact(url), subdir.origin);
    m_stats.records += records.size();
    return records;
}

std::string ShardFetcher::shard_bytes(const ShardedSubdir& subdir, std::string_view name,
                                      const std::string& hex) {
    const std::string url = subdir.shards_url + hex + ".msgpack.zst";
    if (is_file_url(url)) {
        const std::filesystem::path file = file_url_path(url);
        std::error_code ec;
        if (!std::filesystem::is_regular_file(file, ec)) {
            throw not_found_error(
                fmt::format("shard index `{}` names shard `{}` of `{}`, which is missing",
                            subdir.index_url, file.string(), name),
                "the shard index is out of date: index the channel again (`envpack index "
                "--shards DIR`)");
        }
        std::string bytes = read_file(file);
        const std::string got = Digest::of(bytes).hex();
        if (got != hex) {
            throw protocol_error(
                fmt::format("shard `{}` of `{}` has sha256 {}, but shard index `{}` says {}",
                            file.string(), name, got, subdir.index_url, hex),
                "the channel changed under its index: index it again (`envpack index --shards "
                "DIR`)");
        }
        ++m_stats.local;
        return bytes;
    }
    const std::filesystem::path cached = m_options.cache_dir / "shards" / (hex + ".msgpack.zst");
    std::error_code ec;
    if (std::filesystem::is_regular_file(cached, ec)) {
        std::string bytes = read_file(cached);
        if (Digest::of(bytes).hex() == hex) {
            ++m_stats.cached;
            return bytes;
        }
        m_log.warn(fmt::format("cached shard `{}` is damaged; dropping it", cached.string()));
        remove_quietly(cached);
    }
    if (m_options.offline == Offline::yes) {
        throw Error(fmt::format("shard `{}` of `{}`: offline and not in the cache ({})",
                                redact(url), name, cached.string()),
                    "run once without --offline to fill the repodata cache");
    }
    std::string bytes = download_shard(subdir, name, hex, url);
    make_dirs(cached.parent_path());
    write_file_atomic(cached, bytes, Durability::none);
    ++m_stats.downloaded;
    return bytes;
}

std::string ShardFetcher::download_shard(const ShardedSubdir& subdir, std::string_view name,
                                         const std::string& hex, const std::string& url) {
    if (m_http == nullptr) {
        throw Error(fmt::format("fetch shard `{}`: no HTTP client", redact(url)));
    }
    // The index pointed at something wrong: fetch it again next time.
    auto drop_index = [&] {
        if (!subdir.index_cache.empty()) {
            remove_quietly(subdir.index_cache / k_index_file);
            remove_quietly(subdir.index_cache / "state.json");
        }
    };
    HttpRequest request = netrc_request(url);
    HttpResponse response;
    try {
        response = m_http->send(request);
    } catch (const Error& e) {
        throw e.with_context(fmt::format("fetch shard of `{}`", name));
    }
    if (response.status == 404) {
        drop_index();
        throw not_found_error(
            fmt::format("shard index `{}` names shard `{}` of `{}`, which the server does not "
                        "have (HTTP 404)",
                        redact(subdir.index_url), redact(url), name),
            "the channel's shard index is out of date; try again later, or re-index the "
            "channel")
            .with_http_status(404);
    }
    if (response.status != 200) {
        throw Error(error_kind_for_http_status(response.status),
                    fmt::format("fetch shard `{}` of `{}`: HTTP {} (after {} attempts)",
                                redact(url), name, response.status, response.attempts),
                    "the channel server failed; try again later or use --offline with a cache")
            .with_http_status(response.status);
    }
    const std::string got = Digest::of(response.body).hex();
    if (got != hex) {
        drop_index();
        throw protocol_error(
            fmt::format("shard `{}` of `{}` has sha256 {}, but shard index `{}` says {}; "
                        "the cached index was dropped",
                        redact(url), name, got, redact(subdir.index_url), hex),
            "the channel changed while it was read; try again");
    }
    return std::move(response.body);
}

}  // namespace envpack
