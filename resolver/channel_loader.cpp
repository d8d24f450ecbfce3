#include "resolver/channel_loader.h"

#include <algorithm>
#include <future>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "core/log.h"
#include "core/thread_pool.h"
#include "resolver/detail/solver_pool.h"  // dependency_name: the Solver's own reading
#include "resolver/version_spec.h"        // glob_matches

namespace envpack {
namespace {

// One channel subdir: read whole, or name by name from its shards.
struct Part {
    std::size_t channel = 0;
    std::optional<ShardedSubdir> sharded;
    std::vector<PackageRecord> records;
    // Whole parts: record indexes by name (views into `records`, which no longer grows).
    std::unordered_map<std::string_view, std::vector<std::size_t>> by_name;
};

bool is_virtual(std::string_view name) {
    return name.starts_with("__");
}

}  // namespace

ChannelLoader::ChannelLoader(FetchOptions options, HttpClient* http, Log& log)
    : m_repodata(options, http, log), m_shards(std::move(options), http, log), m_log(log) {}

std::vector<ChannelRecords> ChannelLoader::load(std::span<const Channel> channels,
                                                std::string_view platform,
                                                std::span<const MatchSpec> specs,
                                                PipAsPythonDependency pip) {
    std::vector<Part> parts;
    for (std::size_t c = 0; c < channels.size(); ++c) {
        for (const std::string& subdir : {std::string(platform), std::string("noarch")}) {
            Part& part = parts.emplace_back();
            part.channel = c;
            // A fresh repodata.json in the cache answers without any request, not even the
            // shard index probe.
            if (!m_repodata.cached_fresh(channels[c], subdir)) {
                part.sharded = m_shards.open(channels[c], subdir);
            }
            if (part.sharded) {
                ++m_stats.sharded_subdirs;
                m_log.debug(fmt::format("channel `{}` {}: {} shards", channels[c].name(), subdir,
                                        part.sharded->index.shards.size()));
            } else {
                part.records = m_repodata.fetch(channels[c], subdir).records;
            }
        }
    }

    // This call's parts, not the loader's running count (a loader may load more than once).
    const bool any_sharded = std::any_of(parts.begin(), parts.end(),
                                         [](const Part& p) { return p.sharded.has_value(); });
    if (any_sharded) {
        for (Part& part : parts) {
            if (!part.sharded) {
                for (std::size_t i = 0; i < part.records.size(); ++i) {
                    part.by_name[part.records[i].name].push_back(i);
                }
            }
        }
        std::unordered_set<std::string> seen;
        std::vector<std::string> frontier;
        auto reach = [&](std::string_view name) {
            if (name.empty() || is_virtual(name)) {
                return;
            }
            if (name.find('*') == std::string_view::npos) {
                if (seen.emplace(name).second) {
                    frontier.emplace_back(name);
                }
                return;
            }
            for (const Part& part : parts) {
                auto match = [&](std::string_view n) {
                    if (glob_matches(name, n) && seen.emplace(n).second) {
                        frontier.emplace_back(n);
                    }
                };
                if (part.sharded) {
                    for (const auto& [n, hash] : part.sharded->index.shards) {
                        match(n);
                    }
                } else {
                    for (const auto& [n, idx] : part.by_name) {
                        match(n);
                    }
                }
            }
        };
        auto reach_from = [&](const PackageRecord& rec) {
            for (const auto& d : rec.depends) {
                reach(detail::dependency_name(d));
            }
            if (pip == PipAsPythonDependency::yes && rec.name == "python") {
                reach("pip");
            }
        };
        for (const MatchSpec& spec : specs) {
            reach(spec.name());
        }

        ThreadPool pool(std::max(8u, default_thread_count()));
        while (!frontier.empty()) {
            ++m_stats.rounds;
            m_stats.names_reached += frontier.size();
            const std::vector<std::string> names = std::move(frontier);
            frontier.clear();
            // Fetch every (part, name) shard of the round, in parallel, results kept in order.
            struct Job {
                Part* part;
                std::future<std::vector<PackageRecord>> records;
            };
            std::vector<Job> jobs;
            for (const std::string& name : names) {
                for (Part& part : parts) {
                    if (part.sharded && part.sharded->index.shards.contains(name)) {
                        const ShardedSubdir* s = &*part.sharded;
                        jobs.push_back({&part, pool.submit([this, s, name] {
                                            return m_shards.records(*s, name);
                                        })});
                    }
                }
            }
            std::vector<std::vector<PackageRecord>> results;
            results.reserve(jobs.size());
            std::exception_ptr first_error;
            for (Job& job : jobs) {
                try {
                    results.push_back(job.records.get());
                } catch (...) {
                    if (!first_error) {
                        first_error = std::current_exception();
                    }
                    results.emplace_back();
                }
            }
            if (first_error) {
                std::rethrow_exception(first_error);
            }
            for (std::size_t j = 0; j < jobs.size(); ++j) {
                for (const auto& rec : results[j]) {
                    reach_from(rec);
                }
                auto& into = jobs[j].part->records;
                into.insert(into.end(), std::make_move_iterator(results[j].begin()),
                            std::make_move_iterator(results[j].end()));
            }
            for (const std::string& name : names) {
                for (const Part& part : parts) {
                    if (part.sharded) {
                        continue;
                    }
                    if (auto it = part.by_name.find(name); it != part.by_name.end()) {
                        for (std::size_t i : it->second) {
                            reach_from(part.records[i]);
                        }
                    }
                }
            }
        }
        const auto& s = m_shards.stats();
        m_log.debug(fmt::format(
            "shards: {} names in {} rounds; {} downloaded, {} from the cache, {} local; {} "
            "records",
            m_stats.names_reached, m_stats.rounds, s.downloaded.load(), s.cached.load(),
            s.local.load(), s.records.load()));
    }

    std::vector<ChannelRecords> out(channels.size());
    for (std::size_t c = 0; c < channels.size(); ++c) {
        out[c].name = channels[c].name();
    }
    for (Part& part : parts) {
        auto& into = out[part.channel].records;
        if (into.empty()) {
            into = std::move(part.records);
        } else {
            into.insert(into.end(), std::make_move_iterator(part.records.begin()),
                        std::make_move_iterator(part.records.end()));
        }
    }
    return out;
}

}  // namespace envpack
