// envpack index CHANNEL_DIR [--shards]: writes repodata.json per subdir from the channel's package
// files (and CEP 16 sharded repodata with --shards).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "builder/channel_index.h"
#include "cli/args.h"
#include "cli/context.h"

namespace envpack::cli {

int cmd_index(Context& ctx, const std::vector<std::string>& argv) {
    Args args("index", argv, {{"--json", "", false}, {"--shards", "", false}});
    const std::string& dir = args.positional(0, "CHANNEL_DIR");
    args.expect_at_most(1);
    auto results =
        index_channel(dir, ctx.log, args.flag("--shards") ? IndexShards::yes : IndexShards::no);
    if (args.flag("--json")) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& r : results) {
            j.push_back({{"subdir", r.subdir}, {"packages", r.packages}, {"shards", r.shards}});
        }
        std::printf("%s\n", j.dump().c_str());
    } else {
        for (const auto& r : results) {
            std::printf("%s/%s/repodata.json: %zu packages\n", dir.c_str(), r.subdir.c_str(),
                        r.packages);
            if (args.flag("--shards")) {
                std::printf("%s/%s/repodata_shards.msgpack.zst: %zu shards\n", dir.c_str(),
                            r.subdir.c_str(), r.shards);
            }
        }
    }
    return 0;
}

}  // namespace envpack::cli
