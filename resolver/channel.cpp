#include "resolver/channel.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>

#include "core/compress.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/http.h"
#include "core/log.h"
#include "core/netrc.h"
#include "resolver/detail/http_cache_state.h"

namespace envpack {
namespace {

constexpr std::string_view k_file_scheme = "file://";
constexpr const char* k_variants[] = {"repodata.json.zst", "repodata.json"};
constexpr const char* k_local_files[] = {"repodata.json", "repodata.json.zst", "repodata.json.bz2"};

std::string strip_trailing_slashes(std::string s) {
    while (s.size() > 1 && s.back() == '/' && !s.ends_with("://")) {
        s.pop_back();
    }
    return s;
}

bool looks_like_path(std::string_view t) {
    return t.starts_with('/') || t.starts_with("./") || t.starts_with("../") || t == "." ||
           t == ".." || t.starts_with('~');
}

using CacheState = detail::HttpCacheState;

// A cached copy is parsed from the cache; its errors name where it came from and where it is
// (to delete it).
Repodata read_cached(const std::filesystem::path& json_path, std::string_view from,
                     const RepodataOrigin& origin) {
    RepodataParseOptions options;
    options.source = fmt::format("{} (cached as {})", from, json_path.string());
    return read_repodata_file(json_path, origin, options);
}

// The stamp of a local file the cache was made from: size, modification time and path.
std::string file_stamp(const std::filesystem::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        throw_errno("stat repodata", file.string(), errno);
    }
    return fmt::format("{} {}.{:09} {}\n", st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                       file.string());
}

}  // namespace

Channel Channel::parse(std::string_view text, const std::filesystem::path& base_dir,
                       const ChannelOptions& options) {
    std::string t(text);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) {
        t.pop_back();
    }
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) {
        t.erase(t.begin());
    }
    if (t.empty()) {
        throw bad_input("empty channel", "name a channel (conda-forge), a URL or a local path");
    }
    Channel c;
    if (t.starts_with(k_file_scheme)) {
        std::filesystem::path p = t.substr(k_file_scheme.size());
        if (!p.is_absolute()) {
            throw bad_input(fmt::format("channel `{}`: a file:// URL needs an absolute path", t),
                            "write file:///absolute/path, or a relative path such as ./channel");
        }
        c.m_kind = Kind::local;
        c.m_url =
            strip_trailing_slashes(std::string(k_file_scheme) + p.lexically_normal().string());
        c.m_name = c.m_url;
        return c;
    }
    if (t.starts_with("https://") || t.starts_with("http://")) {
        c.m_kind = Kind::url;
        c.m_url = strip_trailing_slashes(t);
        c.m_name = c.m_url;
        return c;
    }
    if (t.find("://") != std::string::npos) {
        throw bad_input(fmt::format("channel `{}`: unsupported URL scheme", t),
                        "channels are names, https://, http://, file:// URLs or local paths");
    }
    if (looks_like_path(t)) {
        std::filesystem::path p;
        if (t.starts_with('~')) {
            const char* home = std::getenv("HOME");
            p = std::filesystem::path(home != nullptr ? home : "/") /
                t.substr(t.size() > 1 ? 2 : 1);
        } else {
            p = std::filesystem::path(t);
        }
        if (p.is_relative()) {
            p = std::filesystem::absolute(base_dir / p);
        }
        c.m_kind = Kind::local;
        c.m_url =
            strip_trailing_slashes(std::string(k_file_scheme) + p.lexically_normal().string());
        c.m_name = c.m_url;
        return c;
    }
    for (char ch : t) {
        bool ok = std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ||
                  ch == '.' || ch == '/';
        if (!ok) {
            throw bad_input(fmt::format("channel `{}`: unexpected character `{}`", t, ch),
                            "channel names use letters, digits, `-`, `_`, `.` and `/`");
        }
    }
    c.m_kind = Kind::name;
    c.m_name = strip_trailing_slashes(t);
    c.m_url = strip_trailing_slashes(options.channel_alias) + "/" + c.m_name;
    return c;
}

std::vector<Channel> Channel::parse_expanded(std::string_view text,
                                             const std::filesystem::path& base_dir,
                                             const ChannelOptions& options) {
    if (text == "defaults") {
        return {parse("https://repo.anaconda.com/pkgs/main", base_dir, options),
                parse("https://repo.anaconda.com/pkgs/r", base_dir, options)};
    }
    return {parse(text, base_dir, options)};
}

std::string Channel::subdir_url(std::string_view subdir) const {
    return fmt::format("{}/{}", m_url, subdir);
}

std::filesystem::path Channel::local_dir() const {
    if (m_kind != Kind::local) {
        return {};
    }
    return std::filesystem::path(m_url.substr(k_file_scheme.size()));
}

RepodataFetcher::RepodataFetcher(FetchOptions options, HttpClient* http, Log& log)
    : m_options(std::move(options)), m_http(http), m_log(log) {}

std::filesystem::path RepodataFetcher::cache_entry(std::string_view subdir_url) const {
    return m_options.cache_dir / Digest::of(subdir_url).hex().substr(0, 16);
}

bool RepodataFetcher::cached_fresh(const Channel& channel, std::string_view subdir) const {
    if (channel.kind() == Channel::Kind::local || m_options.cache_dir.empty()) {
        return false;
    }
    const std::filesystem::path entry = cache_entry(channel.subdir_url(subdir));
    std::optional<CacheState> state = CacheState::load(entry / "state.json");
    std::error_code ec;
    return state && std::filesystem::is_regular_file(entry / "repodata.json", ec) && state->fresh();
}

Repodata RepodataFetcher::fetch(const Channel& channel, std::string_view subdir) {
    if (channel.kind() == Channel::Kind::local) {
        return fetch_local(channel, subdir);
    }
    return fetch_remote(channel, subdir);
}

Repodata RepodataFetcher::fetch_local(const Channel& channel, std::string_view subdir) {
    std::filesystem::path dir = channel.local_dir() / subdir;
    RepodataOrigin origin{channel.name(), std::string(subdir), channel.subdir_url(subdir)};
    std::error_code ec;
    for (const char* file : k_local_files) {
        if (std::filesystem::is_regular_file(dir / file, ec)) {
            if (repodata_encoding(file) == RepodataEncoding::json || m_options.cache_dir.empty()) {
                return read_repodata_file(dir / file, origin);
            }
            return read_local_compressed(dir / file, origin);
        }
    }
    if (subdir == "noarch") {
        // A local channel built for one platform often has no noarch directory.
        m_log.debug(
            fmt::format("channel `{}` has no noarch repodata; reading none", channel.name()));
        Repodata empty;
        empty.subdir = "noarch";
        return empty;
    }
    throw Error(fmt::format("read repodata of channel `{}`: no repodata.json(.zst|.bz2) in `{}`",
                            channel.name(), dir.string()),
                fmt::format("index the channel (`envpack index {}`) or check the platform",
                            channel.local_dir().string()));
}

Repodata RepodataFetcher::read_local_compressed(const std::filesystem::path& file,
                                                const RepodataOrigin& origin) {
    const std::filesystem::path entry = cache_entry("local:" + file.string());
    const std::filesystem::path json_path = entry / "repodata.json";
    const std::filesystem::path stamp_path = entry / "source";
    make_dirs(entry);
    FileLock lock(entry / "lock", LockMode::exclusive);
    const std::string stamp = file_stamp(file);
    std::error_code ec;
    if (std::filesystem::is_regular_file(json_path, ec) &&
        std::filesystem::is_regular_file(stamp_path, ec) && read_file(stamp_path) == stamp) {
        m_log.debug(fmt::format("repodata `{}`: decoded copy in the cache", file.string()));
        return read_cached(json_path, file.string(), origin);
    }
    {
        std::string json =
            decode_repodata(read_file(file), repodata_encoding(file.string()), file.string());
        write_file_atomic(json_path, json, Durability::none);
    }  // the decoded text is freed before the records are built
    write_file_atomic(stamp_path, stamp, Durability::none);
    return read_cached(json_path, file.string(), origin);
}

Repodata RepodataFetcher::fetch_remote(const Channel& channel, std::string_view subdir) {
    const std::string base = channel.subdir_url(subdir);
    RepodataOrigin origin{channel.name(), std::string(subdir), base};
    const std::filesystem::path entry = cache_entry(base);
    const std::filesystem::path json_path = entry / "repodata.json";
    const std::filesystem::path state_path = entry / "state.json";
    make_dirs(entry);
    FileLock lock(entry / "lock", LockMode::exclusive);
    std::optional<CacheState> state = CacheState::load(state_path);
    std::error_code ec;
    const bool cached = state && std::filesystem::is_regular_file(json_path, ec);

    if (m_options.offline == Offline::yes) {
        if (!cached) {
            throw Error(fmt::format("fetch repodata `{}`: offline and not in the cache ({})",
                                    redact(base), entry.string()),
                        "run once without --offline to fill the repodata cache");
        }
        return read_cached(json_path, base, origin);
    }
    if (cached && state->fresh()) {
        m_log.debug(fmt::format("repodata `{}`: cached copy is fresh", redact(base)));
        return read_cached(json_path, base, origin);
    }
    if (m_http == nullptr) {
        throw Error(fmt::format("fetch repodata `{}`: no HTTP client", redact(base)));
    }

    std::string last_failure;
    for (const char* variant : k_variants) {
        const std::string url = base + "/" + variant;
        HttpRequest request = netrc_request(url);
        if (cached && state->variant == variant) {
            state->add_validators(request);
        }
        const bool plain = std::string_view(variant) == "repodata.json";
        // Bodies always go to a sink: HttpClient refuses in-memory bodies over 64 MiB, and
        // conda-forge's compressed repodata is already about half of that.
        std::optional<AtomicFile> file;
        StringSink compressed;
        if (plain) {
            file.emplace(json_path, Durability::none);
            request.response_sink = &*file;
        } else {
            request.response_sink = &compressed;
        }
        HttpResponse response;
        try {
            response = m_http->send(request);
        } catch (const Error& e) {
            if (cached) {
                m_log.warn(fmt::format("{}; using the cached repodata from {}", e.what(),
                                       state->fetched_at));
                return read_cached(json_path, base, origin);
            }
            throw e.with_context(fmt::format("fetch repodata `{}`", redact(url)));
        }
        const bool not_modified = response.status == 304 && cached;
        CacheState next = CacheState::from_response(response, m_options.default_max_age.count(),
                                                    not_modified ? &*state : nullptr);
        next.url = url;
        next.variant = variant;
        if (not_modified) {
            next.save(state_path);
            m_log.debug(fmt::format("repodata `{}`: not modified", redact(url)));
            return read_cached(json_path, base, origin);
        }
        if (response.status == 200) {
            if (plain) {
                file->commit();
            } else {
                std::string json =
                    decode_repodata(std::move(compressed.data()), RepodataEncoding::zstd, url);
                write_file_atomic(json_path, json, Durability::none);
            }
            next.save(state_path);
            return read_cached(json_path, base, origin);
        }
        last_failure = fmt::format("fetch repodata `{}`: HTTP {}", redact(url), response.status);
        if (response.status == 404) {
            continue;  // try the next variant
        }
        if (cached) {
            m_log.warn(fmt::format("{}; using the cached repodata", last_failure));
            return read_cached(json_path, base, origin);
        }
        throw Error(error_kind_for_http_status(response.status),
                    fmt::format("{} (after {} attempts)", last_failure, response.attempts),
                    "the channel server failed; try again later or use --offline with a cache")
            .with_http_status(response.status);
    }
    throw not_found_error(last_failure,
                          fmt::format("check that channel `{}` exists and has a `{}` subdir",
                                      redact(channel.name()), subdir))
        .with_http_status(404);
}

}  // namespace envpack
