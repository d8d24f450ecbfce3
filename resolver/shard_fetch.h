// Fetching CEP 16 sharded repodata of a channel subdir: the shard index and, name by name, the
// shards it points at.
//
// Local channels (file://) are read in place: `SUBDIR/repodata_shards.msgpack.zst` and the
// shards under its `shards_base_url`; every shard's sha256 is checked against the index.
//
// Remote channels: the index is fetched from `SUBDIR/repodata_shards.msgpack.zst` and cached
// under `cache_dir/<sha256("shards:" + subdir URL)[:16]>/` with its ETag / Last-Modified /
// max-age (fresh: no request; stale: revalidated, 304 keeps it). A channel that answers anything
// but 200/304 for the index (404 mostly) has no shards: `open` returns nullopt after one request
// (no retries unless an index is cached, so channels without shards cost one quick 404), and the
// caller reads repodata.json. Shards are cached content-addressed, `cache_dir/shards/<sha256>.
// msgpack.zst`, shared by all channels: a cached shard is never fetched again (it is checked
// against its name when read and dropped if damaged). A downloaded shard whose sha256 differs
// from the index, or a shard the index names that the server does not have, throws Error (exit
// 1) and drops the cached index (so the next run fetches it again); nothing is cached for it.
// With `Offline::yes` only the cache is used: no cached index means no shards, a shard not in
// the cache is an error.
//
// `records` is thread-safe (shards of one round of names are fetched in parallel).
#pragma once

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/channel.h"
#include "resolver/shards.h"

namespace envpack {

class HttpClient;
class Log;

// One channel subdir that publishes shards.
struct ShardedSubdir {
    std::string channel;     // Channel::name()
    std::string subdir;      // "linux-64", "noarch"
    std::string index_url;   // where the index came from (for messages; redacted when printed)
    std::string shards_url;  // shards_base_url resolved, ends in `/`
    RepodataOrigin origin;   // base_url resolved: where the packages are
    ShardIndex index;
    std::filesystem::path index_cache;  // remote: the index's cache entry; empty for local
};

struct ShardFetchStats {
    std::atomic<std::size_t> downloaded{0};  // shards fetched over HTTP
    std::atomic<std::size_t> cached{0};      // shards read from the cache
    std::atomic<std::size_t> local{0};       // shards read from a local channel
    std::atomic<std::size_t> records{0};     // records they held
};

class ShardFetcher {
  public:
    // `http` may be null when only local channels (or the offline cache) are used.
    ShardFetcher(FetchOptions options, HttpClient* http, Log& log);

    // The subdir's shard index, or nullopt when it publishes none (see above). Throws Error for
    // a damaged index.
    std::optional<ShardedSubdir> open(const Channel& channel, std::string_view subdir);

    // The records of `name` (none when the index has no shard for it), in repodata.json order.
    std::vector<PackageRecord> records(const ShardedSubdir& subdir, std::string_view name);

    const ShardFetchStats& stats() const { return m_stats; }

  private:
    std::optional<ShardedSubdir> open_local(const Channel& channel, std::string_view subdir);
    std::optional<ShardedSubdir> open_remote(const Channel& channel, std::string_view subdir);
    std::string shard_bytes(const ShardedSubdir& subdir, std::string_view name,
                            const std::string& hex);
    std::string download_shard(const ShardedSubdir& subdir, std::string_view name,
                               const std::string& hex, const std::string& url);

    FetchOptions m_options;
    HttpClient* m_http;
    Log& m_log;
    ShardFetchStats m_stats;
};

}  // namespace envpack
