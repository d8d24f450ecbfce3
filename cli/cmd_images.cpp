// envpack images [--json]
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/context.h"
#include "core/error.h"
#include "core/log.h"
#include "registry/store.h"

namespace envpack::cli {

int cmd_images(Context& ctx, const std::vector<std::string>& argv) {
    Args args("images", argv, {{"--json", "", false}});
    args.expect_at_most(0);
    Store store(ctx.store_dir());
    auto images = store.list();
    if (args.flag("--json")) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& img : images) {
            out.push_back({{"reference", img.name},
                           {"digest", img.manifest.digest.to_string()},
                           {"mediaType", img.manifest.media_type}});
        }
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("%-40s %-19s %s\n", "REFERENCE", "DIGEST", "SIZE");
    for (const auto& img : images) {
        std::int64_t size = img.manifest.size;
        try {
            Manifest m = store.read_manifest(img.manifest);
            size += m.config.size;
            for (const auto& l : m.layers) {
                size += l.size;
            }
        } catch (const Error& e) {
            ctx.log.warnf("{}: {}", img.name, e.what());
        }
        std::printf("%-40s %-19s %s\n", img.name.c_str(),
                    img.manifest.digest.to_string().substr(0, 19).c_str(),
                    human_bytes(static_cast<std::uint64_t>(size)).c_str());
    }
    return 0;
}

}  // namespace envpack::cli
