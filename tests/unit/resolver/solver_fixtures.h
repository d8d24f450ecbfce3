// Shared helpers for the solver tests: channels loaded from shared/data/conda/channels with the
// project's repodata loader (SUBDIR + noarch merged), and results as sorted dist strings.
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "resolver/repodata.h"
#include "resolver/solver.h"

namespace envpack::test {

inline ChannelRecords load_shared_channel(const std::string& name) {
    std::filesystem::path dir =
        std::filesystem::path(ENVPACK_SHARED_DIR) / "data/conda/channels" / name;
    ChannelRecords channel;
    channel.name = name;
    for (const char* subdir : {"linux-64", "noarch"}) {
        RepodataOrigin origin{name, subdir, "file://" + (dir / subdir).string()};
        Repodata rd = read_repodata_file(dir / subdir / "repodata.json", origin);
        for (auto& r : rd.records) {
            channel.records.push_back(std::move(r));
        }
    }
    return channel;
}

// Loaded once per test binary.
inline const std::vector<ChannelRecords>& shared_channel(const std::string& name) {
    static std::map<std::string, std::vector<ChannelRecords>> cache;
    auto it = cache.find(name);
    if (it == cache.end()) {
        it = cache.emplace(name, std::vector<ChannelRecords>{load_shared_channel(name)}).first;
    }
    return it->second;
}

inline std::vector<MatchSpec> specs(std::initializer_list<const char*> list) {
    std::vector<MatchSpec> out;
    for (const char* s : list) {
        out.push_back(MatchSpec::parse(s));
    }
    return out;
}

// "name-version-build", sorted (conda's dist strings without the channel).
inline std::vector<std::string> dists(const Solution& solution) {
    std::vector<std::string> out;
    for (const auto& r : solution.records) {
        out.push_back(r.name + "-" + r.version + "-" + r.build);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A hand-made channel: `records` tagged with the channel's name.
inline ChannelRecords channel(std::string name, std::vector<PackageRecord> records) {
    for (auto& r : records) {
        r.channel = name;
    }
    return ChannelRecords{std::move(name), std::move(records)};
}

inline PackageRecord record(std::string name, std::string version,
                            std::vector<std::string> depends = {},
                            std::vector<std::string> constrains = {}, std::string build = "0",
                            int build_number = 0) {
    PackageRecord r;
    r.name = std::move(name);
    r.version = std::move(version);
    r.build = std::move(build);
    r.build_number = build_number;
    r.depends = std::move(depends);
    r.constrains = std::move(constrains);
    r.subdir = "linux-64";
    return r;
}

}  // namespace envpack::test
