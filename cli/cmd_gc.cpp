// envpack gc [--json]: unreferenced blobs, then unpacked trees no image refers to
#include <cstdio>

#include <nlohmann/json.hpp>

#include "builder/unpack_cache.h"
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
    UnpackGcResult u = gc_unpacked(store, ctx.home, ctx.log);
    if (args.flag("--json")) {
        nlohmann::json j = {{"removed_blobs", r.removed_blobs}, {"removed_bytes", r.removed_bytes},
                            {"kept_blobs", r.kept_blobs},       {"removed_unpacked", u.removed},
                            {"kept_unpacked", u.kept},          {"pinned_unpacked", u.pinned}};
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("removed %llu blob(s), %s; kept %llu\n",
                    static_cast<unsigned long long>(r.removed_blobs),
                    human_bytes(r.removed_bytes).c_str(),
                    static_cast<unsigned long long>(r.kept_blobs));
        std::printf("removed %llu unpacked tree(s); kept %llu, %llu in use\n",
                    static_cast<unsigned long long>(u.removed),
                    static_cast<unsigned long long>(u.kept),
                    static_cast<unsigned long long>(u.pinned));
    }
    return 0;
}

}  // namespace envpack::cli
