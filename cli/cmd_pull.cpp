// envpack pull REF: fetch an image from a registry into the local store.
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/context.h"
#include "core/error.h"
#include "registry/client.h"
#include "registry/store.h"

namespace envpack::cli {

int cmd_pull(Context& ctx, const std::vector<std::string>& argv) {
    auto specs = registry_option_specs();
    specs.push_back({"--platform", "", true});
    Args args("pull", argv, specs);
    args.expect_at_most(1);
    ImageRef ref = ImageRef::parse(args.positional(0, "the image to pull (REF)"));
    RegistryOptions options = registry_options_from(args);
    if (auto p = args.value("--platform")) {
        auto platform = Platform::parse(*p);
        if (!platform) {
            throw bad_input(fmt::format("pull: --platform `{}` is not OS/ARCH[/VARIANT]", *p),
                            "e.g. --platform linux/amd64");
        }
        options.platform = *platform;
    }
    options.blob_location_cache = ctx.home / "registry-blobs.json";
    Store store(ctx.store_dir());
    RegistryClient client(options, ctx.log);
    PullResult r = client.pull(store, ref);
    if (args.flag("--json")) {
        nlohmann::json j = {
            {"reference", ref.to_string()},
            {"stored_as", r.stored_name},
            {"digest", r.manifest_digest.to_string()},
            {"media_type", r.media_type},
            {"downloaded", r.downloaded.size()},
            {"present", r.present.size()},
            {"bytes_downloaded", r.bytes_downloaded},
        };
        if (r.index_digest) {
            j["index_digest"] = r.index_digest->to_string();
        }
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        ctx.log.infof("downloaded {} blobs ({}), {} already present", r.downloaded.size(),
                      human_bytes(r.bytes_downloaded), r.present.size());
        std::printf("%s@%s\n", r.stored_name.c_str(), r.manifest_digest.to_string().c_str());
    }
    return 0;
}

}  // namespace envpack::cli
