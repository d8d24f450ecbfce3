// envpack export REF -o FILE.tar [--format oci|docker]
#include <cstdio>

#include "cli/args.h"
#include "cli/context.h"
#include "core/error.h"
#include "registry/export.h"
#include "registry/reference.h"

namespace envpack::cli {

int cmd_export(Context& ctx, const std::vector<std::string>& argv) {
    Args args("export", argv, {{"--output", "-o", true}, {"--format", "", true}});
    std::string name = ImageRef::parse(args.positional(0, "REF")).store_name();
    args.expect_at_most(1);
    auto out = args.value("--output");
    if (!out) {
        throw bad_input("export: missing -o FILE.tar");
    }
    ExportFormat format = ExportFormat::oci;
    if (auto f = args.value("--format")) {
        if (*f == "docker") {
            format = ExportFormat::docker;
        } else if (*f != "oci") {
            throw bad_input(fmt::format("export: unknown format `{}`", *f), "use oci or docker");
        }
    }
    Store store(ctx.store_dir());
    export_image(store, name, *out, format);
    std::printf("%s\n", out->c_str());
    return 0;
}

}  // namespace envpack::cli
