// The records a solve needs from its channels, for one platform: SUBDIR + noarch of each channel,
// in priority order, as the Solver takes them (ChannelRecords).
//
// A subdir without shards is read whole (RepodataFetcher: repodata.json and its cache; a fresh
// cached repodata.json is used without probing for a shard index). A subdir
// that publishes CEP 16 shards (ShardFetcher) is read name by name, as conda's reduced index
// reaches names: the requested names first, then, round after round, the names the records
// loaded so far depend on (in any channel or subdir, sharded or not), `pip` after `python` when
// conda's add_pip_as_python_dependency is on, until no new name turns up. The shards of one
// round are fetched in parallel. Names starting with `__` (virtual packages) are never fetched;
// a glob name (`py*`) reaches every name of the shard indexes it matches.
//
// The result equals, for every name the solve can reach, what the whole repodata.json would
// give (same records, same order), so the lock is the same. What is not loaded is what the solve
// would not look at. One gap, as in conda's and rattler's sharded readers: a package that only
// another package's legacy `features` points at (through `track_features`, not by name) is found
// only when something depends on it by name.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/channel.h"
#include "resolver/match_spec.h"
#include "resolver/shard_fetch.h"
#include "resolver/solver.h"

namespace envpack {

class HttpClient;
class Log;

struct ChannelLoadStats {
    std::size_t sharded_subdirs = 0;
    std::size_t names_reached = 0;  // names looked up in sharded subdirs
    std::size_t rounds = 0;
};

class ChannelLoader {
  public:
    // `http` may be null when only local channels (or the offline cache) are used.
    ChannelLoader(FetchOptions options, HttpClient* http, Log& log);

    // See above. Throws what RepodataFetcher::fetch and ShardFetcher throw.
    std::vector<ChannelRecords> load(std::span<const Channel> channels, std::string_view platform,
                                     std::span<const MatchSpec> specs,
                                     PipAsPythonDependency pip = PipAsPythonDependency::no);

    const ChannelLoadStats& stats() const { return m_stats; }
    const ShardFetchStats& shard_stats() const { return m_shards.stats(); }

  private:
    RepodataFetcher m_repodata;
    ShardFetcher m_shards;
    Log& m_log;
    ChannelLoadStats m_stats;
};

}  // namespace envpack
