// envpack gc [--json]
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/context.h"
#include "core/log.h"
#include "registry/store.h"

namespace envpack::cli {

int cmd_gc(Context& ctx, const std::vector<std::string>& argv) {
    Args args("gc", argv, {{"--json", "", false}});
    args.expect_at_most(0);
    Store store(ctx.store_dir());
    GcResult r = store.gc();
    if (args.flag("--json")) {
        nlohmann::json j = {{"removed_blobs", r.removed_blobs},
                            {"removed_bytes", r.removed_bytes},
                            {"kept_blobs", r.kept_blobs}};
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("removed %llu blob(s), %s; kept %llu\n",
                    static_cast<unsigned long long>(r.removed_blobs),
                    human_bytes(r.removed_bytes).c_str(),
                    static_cast<unsigned long long>(r.kept_blobs));
    }
    return 0;
}

}  // namespace envpack::cli
