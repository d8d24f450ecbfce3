// envpack import ROOTFS_DIR|TAR -t NAME[:TAG]
#include <cstdio>

#include <nlohmann/json.hpp>

#include "builder/import.h"
#include "cli/args.h"
#include "cli/context.h"
#include "core/error.h"
#include "registry/reference.h"

namespace envpack::cli {

int cmd_import(Context& ctx, const std::vector<std::string>& argv) {
    Args args("import", argv,
              {{"--tag", "-t", true},
               {"--compression", "", true},
               {"--platform", "", true},
               {"--json", "", false}});
    const std::string& source = args.positional(0, "ROOTFS_DIR or TAR");
    args.expect_at_most(1);
    auto tag = args.value("--tag");
    if (!tag) {
        throw bad_input("import: missing -t NAME[:TAG]",
                        "name the image, e.g. `envpack import rootfs/ -t demo/base:1`");
    }
    ImageRef ref = ImageRef::parse(*tag);
    ImportOptions options;
    if (auto c = args.value("--compression")) {
        auto parsed = parse_compression(*c);
        if (!parsed) {
            throw bad_input(fmt::format("import: unknown compression `{}`", *c),
                            "use gzip, zstd or none");
        }
        options.compression = *parsed;
    }
    if (auto p = args.value("--platform")) {
        auto parsed = Platform::parse(*p);
        if (!parsed) {
            throw bad_input(fmt::format("import: `{}` is not a platform", *p),
                            "write it as OS/ARCH, e.g. linux/amd64");
        }
        options.platform = *parsed;
    }
    options.source_date_epoch = source_date_epoch_from_env();
    Store store(ctx.store_dir());
    ImportResult r = import_rootfs(store, source, ref.store_name(), options, ctx.log);
    if (args.flag("--json")) {
        nlohmann::json j = {{"reference", r.name},
                            {"digest", r.manifest.digest.to_string()},
                            {"layer",
                             {{"digest", r.layer.digest.to_string()},
                              {"diff_id", r.layer.diff_id.to_string()},
                              {"size", r.layer.size},
                              {"uncompressed_size", r.layer.uncompressed_size},
                              {"mediaType", r.layer.media_type}}}};
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("%s %s\n", r.name.c_str(), r.manifest.digest.to_string().c_str());
    }
    return 0;
}

}  // namespace envpack::cli
