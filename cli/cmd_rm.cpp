// envpack rm REF...
#include <cstdio>

#include "cli/args.h"
#include "cli/context.h"
#include "core/error.h"
#include "registry/reference.h"
#include "registry/store.h"

namespace envpack::cli {

int cmd_rm(Context& ctx, const std::vector<std::string>& argv) {
    Args args("rm", argv, {});
    args.positional(0, "REF");
    Store store(ctx.store_dir());
    int missing = 0;
    for (const auto& text : args.positionals()) {
        std::string name = ImageRef::parse(text).store_name();
        if (store.untag(name)) {
            std::printf("removed %s\n", name.c_str());
        } else {
            std::fprintf(stderr, "error: image `%s` is not in the local store\n", name.c_str());
            ++missing;
        }
    }
    if (missing > 0) {
        throw bad_input(
            fmt::format("rm: {} of {} reference(s) not found", missing, args.positionals().size()),
            "run `envpack images` to list the store");
    }
    return 0;
}

}  // namespace envpack::cli
