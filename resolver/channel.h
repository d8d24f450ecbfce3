// Conda channels: what a channel written in an environment file means, and fetching its
// repodata for a platform with an on-disk HTTP cache.
//
// `Channel::parse` (pure) maps
//   - a name (`conda-forge`, `pytorch/label/nightly`) to `<channel_alias>/NAME`
//     (alias default `https://conda.anaconda.org`);
//   - a URL (`https://`, `http://`, `file://`) to itself, without a trailing `/`;
//   - a local path (`/abs`, `./rel`, `../rel`, `~/x`) to `file://<absolute path>`, relative paths
//     being taken from the environment file's directory.
// `to_string` gives the name back as written for names and the canonical URL otherwise.
//
// `RepodataFetcher` reads `SUBDIR` and `noarch` repodata of a channel. Local channels (file://)
// are read in place (`repodata.json`, else `.json.zst`, else `.json.bz2`); compressed local
// repodata is decoded once into the cache (`cache_dir/<sha256("local:" + path)[:16]>/`, stamped
// with the file's size, mtime and path, so a changed file is decoded again) and memory-mapped
// from there, which keeps peak memory to the records instead of records + decoded text. Remote
// channels are fetched with HttpClient (`repodata.json.zst` first, `repodata.json` when that is
// 404) and cached under `cache_dir/<sha256(url)[:16]>/` as decoded `repodata.json` plus
// `state.json` (ETag, Last-Modified, max-age, fetch time). A cached copy younger than its max-age
// is used without a request; an older one is revalidated (If-None-Match / If-Modified-Since, 304
// keeps it). With `Offline::yes` only the cache is used, whatever its age; no cache is an error. A
// 404 (for both variants), a 5xx after HttpClient's retries, or a timeout throws Error naming the
// URL; the cache is never left half-written (atomic writes under a file lock). Parse errors in a
// cached copy name the URL or file it came from and the cache path.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/repodata.h"

namespace envpack {

class HttpClient;
class Log;

struct ChannelOptions {
    std::string channel_alias = "https://conda.anaconda.org";
};

class Channel {
  public:
    enum class Kind { name, url, local };

    // `base_dir` is where relative local paths start (the environment file's directory).
    // Throws a bad-input Error for an empty channel or an unsupported URL scheme.
    static Channel parse(std::string_view text, const std::filesystem::path& base_dir,
                         const ChannelOptions& options = {});

    // Like parse, but `defaults` expands to conda's default channels on Linux
    // (`https://repo.anaconda.com/pkgs/main`, `https://repo.anaconda.com/pkgs/r`), in that order.
    static std::vector<Channel> parse_expanded(std::string_view text,
                                               const std::filesystem::path& base_dir,
                                               const ChannelOptions& options = {});

    Kind kind() const { return m_kind; }
    // The channel as users name it: `conda-forge` for names, the canonical URL otherwise.
    const std::string& name() const { return m_name; }
    // `https://conda.anaconda.org/conda-forge`, `file:///abs/channel`; never ends in `/`.
    const std::string& url() const { return m_url; }
    // `url() + "/" + subdir`.
    std::string subdir_url(std::string_view subdir) const;
    // For file:// channels, the directory; empty otherwise.
    std::filesystem::path local_dir() const;
    std::string to_string() const { return m_name; }

    bool operator==(const Channel&) const = default;

  private:
    Kind m_kind = Kind::name;
    std::string m_name;
    std::string m_url;
};

enum class Offline { no, yes };

struct FetchOptions {
    std::filesystem::path cache_dir;  // $ENVPACK_HOME/repodata
    Offline offline = Offline::no;
    std::chrono::seconds default_max_age{0};  // when the server sends no max-age
};

class RepodataFetcher {
  public:
    // `http` may be null when only local channels (or the offline cache) are used.
    RepodataFetcher(FetchOptions options, HttpClient* http, Log& log);

    // The records of `channel`'s `subdir`, each with record.channel = channel.name().
    // Throws Error naming the URL on failure (see above).
    Repodata fetch(const Channel& channel, std::string_view subdir);

    // Where the cache for `url` (a subdir URL) lives.
    std::filesystem::path cache_entry(std::string_view subdir_url) const;

    // Whether `fetch` would answer from the cache without a request: a remote channel's cached
    // repodata.json younger than its max-age (false for local channels).
    bool cached_fresh(const Channel& channel, std::string_view subdir) const;

  private:
    Repodata fetch_local(const Channel& channel, std::string_view subdir);
    Repodata fetch_remote(const Channel& channel, std::string_view subdir);
    Repodata read_local_compressed(const std::filesystem::path& file, const RepodataOrigin& origin);

    FetchOptions m_options;
    HttpClient* m_http;
    Log& m_log;
};

}  // namespace envpack
