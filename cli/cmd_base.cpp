// envpack base build RECIPE.yaml [-t NAME[:TAG]] [--lock FILE] [--update] [--push REF] [--json]
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/base_build.h"
#include "builder/layer.h"
#include "cli/args.h"
#include "cli/context.h"
#include "cli/http_env.h"
#include "core/error.h"
#include "registry/client.h"
#include "registry/reference.h"

namespace envpack::cli {

namespace {

int base_build(Context& ctx, const std::vector<std::string>& argv) {
    auto specs = registry_option_specs();
    specs.push_back({"--tag", "-t", true});
    specs.push_back({"--lock", "", true});
    specs.push_back({"--update", "", false});
    specs.push_back({"--push", "", true});
    specs.push_back({"--compression", "", true});
    Args args("base build", argv, specs);
    args.expect_at_most(1);
    BaseBuildOptions o;
    o.recipe = args.positional(0, "RECIPE.yaml");
    if (auto t = args.value("--tag")) {
        o.tag = ImageRef::parse(*t).store_name();
    }
    if (auto l = args.value("--lock")) {
        o.lock_file = *l;
    }
    o.lock_mode = args.flag("--update") ? BaseLockMode::update : BaseLockMode::use;
    if (auto c = args.value("--compression")) {
        auto parsed = parse_compression(*c);
        if (!parsed) {
            throw bad_input(fmt::format("base build: unknown compression `{}`", *c),
                            "use gzip, zstd or none");
        }
        o.compression = *parsed;
    }
    o.source_date_epoch = source_date_epoch_from_env();
    o.home = ctx.home;
    o.mmdebstrap = mmdebstrap_from_env();
    std::optional<ImageRef> push_to;
    if (auto p = args.value("--push")) {
        push_to = ImageRef::parse(*p);
        if (push_to->domain().empty()) {
            throw bad_input(fmt::format("base build: --push `{}` names no registry", *p),
                            "give a reference with a registry host, e.g. localhost:5000/base:1");
        }
    }
    Store store(ctx.store_dir());
    BaseBuildResult r = build_base_image(store, o, ctx.log);
    std::string pushed;
    if (push_to) {
        RegistryOptions ro = registry_options_from(args);
        ro.blob_location_cache = ctx.home / "registry-blobs.json";
        RegistryClient client(ro, ctx.log);
        client.push(store, r.name, *push_to);
        pushed = push_to->to_string();
    }
    if (args.flag("--json")) {
        nlohmann::json layers = nlohmann::json::array();
        for (const auto& l : r.layers) {
            layers.push_back({{"name", l.name},
                              {"digest", l.descriptor.digest.to_string()},
                              {"diff_id", l.diff_id.to_string()},
                              {"size", l.descriptor.size},
                              {"reused", l.reused}});
        }
        nlohmann::json vp = r.virtual_packages;
        nlohmann::json j = {
            {"reference", r.name},          {"digest", r.manifest.digest.to_string()},
            {"cached", r.cached},           {"bootstrapped", r.bootstrapped},
            {"lock", r.lock_file.string()}, {"lock_written", r.lock_written},
            {"build_key", r.build_key},     {"layers", layers},
            {"virtual_packages", vp}};
        if (!pushed.empty()) {
            j["pushed"] = pushed;
        }
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("%s %s%s\n", r.name.c_str(), r.manifest.digest.to_string().c_str(),
                    r.cached ? " (cached)" : "");
    }
    return 0;
}

}  // namespace

int cmd_base(Context& ctx, const std::vector<std::string>& argv) {
    if (argv.empty() || argv[0] != "build") {
        throw bad_input(argv.empty() ? "base: missing subcommand"
                                     : fmt::format("base: unknown subcommand `{}`", argv[0]),
                        "usage: envpack base build RECIPE.yaml [-t NAME[:TAG]]");
    }
    return base_build(ctx, std::vector<std::string>(argv.begin() + 1, argv.end()));
}

}  // namespace envpack::cli
