// envpack build -f ENV.yml [--lock FILE] [--locked|--frozen] [-p PLATFORM] [--virtual N=V]...
//               [--base REF|RECIPE.yaml] [-t NAME[:TAG]] [--compression gzip|zstd] [--max-layers N]
//               [--prefix /opt/conda] [--offline] [--push REF] [--explain] [--json]
// Fills an EnvBuildRequest and calls build_env_file (builder/env_build.h): the lock is made or
// refreshed when missing or stale (said on stderr), the image built or found in the cache, and
// pushed with --push. Prints the reference and manifest digest.
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/env_build.h"
#include "builder/layer.h"
#include "cli/args.h"
#include "cli/context.h"
#include "cli/http_env.h"
#include "core/error.h"
#include "core/http.h"
#include "registry/client.h"
#include "registry/reference.h"
#include "resolver/condarc.h"

namespace envpack::cli {

int cmd_build(Context& ctx, const std::vector<std::string>& argv) {
    std::vector<OptionSpec> specs = registry_option_specs();  // --parallel and --json among them
    for (OptionSpec o : std::initializer_list<OptionSpec>{{"--file", "-f", true},
                                                          {"--lock", "", true},
                                                          {"--locked", "", false},
                                                          {"--frozen", "", false},
                                                          {"--virtual", "", true},
                                                          {"--offline", "", false},
                                                          {"--channel-alias", "", true},
                                                          {"--base", "", true},
                                                          {"--tag", "-t", true},
                                                          {"--compression", "", true},
                                                          {"--max-layers", "", true},
                                                          {"--prefix", "", true},
                                                          {"--platform", "-p", true},
                                                          {"--push", "", true},
                                                          {"--explain", "", false}}) {
        specs.push_back(o);
    }
    Args args("build", argv, specs);
    args.expect_at_most(0);
    EnvBuildRequest request;
    BuildOptions& options = request.build;
    auto file = args.value("--file");
    if (!file) {
        throw bad_input("build: missing -f ENV.yml",
                        "name the environment file: envpack build -f environment.yml");
    }
    request.env_file = *file;
    if (auto l = args.value("--lock")) {
        request.lock_file = *l;
    }
    if (args.flag("--locked") && args.flag("--frozen")) {
        throw bad_input("build: --locked and --frozen exclude each other",
                        "--locked refuses a stale lock, --frozen uses it unchecked; pick one");
    }
    request.lock_mode = args.flag("--locked")   ? LockPolicy::locked
                        : args.flag("--frozen") ? LockPolicy::frozen
                                                : LockPolicy::refresh;
    request.virtual_overrides = args.values("--virtual");
    request.offline = args.flag("--offline") ? Offline::yes : Offline::no;
    if (auto alias = args.value("--channel-alias")) {
        request.channel_options.channel_alias = *alias;
        request.alias_from = AliasFrom::command_line;
    }
    if (auto rc = condarc_from_environment()) {
        request.condarc = std::move(rc->first);
        ctx.log.infof("build: channel settings from {}", rc->second.string());
    }
    if (auto b = args.value("--base")) {
        request.base = BaseSource::parse(*b, std::filesystem::current_path());
        request.mmdebstrap = mmdebstrap_from_env();
    }
    if (auto t = args.value("--tag")) {
        options.tag = ImageRef::parse(*t).store_name();
    }
    if (auto c = args.value("--compression")) {
        auto parsed = parse_compression(*c);
        if (!parsed || *parsed == Compression::none) {
            throw bad_input(fmt::format("build: unknown compression `{}`", *c), "use gzip or zstd");
        }
        options.compression = *parsed;
    }
    if (auto n = args.uint_value("--max-layers")) {
        options.max_layers = static_cast<std::size_t>(*n);
    }
    if (auto n = args.uint_value("--parallel")) {
        options.parallel = static_cast<unsigned>(std::max(1ULL, *n));
    }
    if (auto p = args.value("--prefix")) {
        options.prefix = *p;
    }
    if (auto platforms = args.values("--platform"); !platforms.empty()) {
        if (platforms.size() > 1) {
            throw bad_input("build: an image has one platform; give a single -p");
        }
        options.platform = platforms.front();
    }
    options.source_date_epoch = source_date_epoch_from_env();
    options.home = ctx.home;
    if (auto dest = args.value("--push")) {
        request.push = ImageRef::parse(*dest);
    }
    request.registry = registry_options_from(args);

    Store store(ctx.store_dir());
    HttpClient http(http_options_from_env(ctx.log));
    EnvBuildResult built = build_env_file(store, request, &http, ctx.log);
    const BuildResult& r = built.image;
    if (built.lock.action != LockAction::used && ctx.log.level() != LogLevel::quiet) {
        std::fprintf(stderr, "envpack: %s `%s` (%s)\n",
                     built.lock.action == LockAction::created ? "wrote the lock" : "re-locked",
                     built.lock.path.string().c_str(), built.lock.reason.c_str());
    }
    if (args.flag("--explain")) {
        for (const auto& line : r.explain) {
            std::fprintf(stderr, "explain: %s\n", line.c_str());
        }
    }
    if (args.flag("--json")) {
        nlohmann::json j = {{"reference", r.name},
                            {"digest", r.manifest.digest.to_string()},
                            {"cached", r.cached},
                            {"cached_remote", r.cached_remote},
                            {"build_key", r.build_key},
                            {"layers_written", r.layers_written},
                            {"layers_reused", r.layers_reused},
                            {"clobbers", r.clobbers},
                            {"explain", r.explain},
                            {"lock",
                             {{"file", built.lock.path.string()},
                              {"action", std::string(to_string(built.lock.action))},
                              {"reason", built.lock.reason}}},
                            {"virtual_packages", built.virtual_overrides}};
        if (built.pushed) {
            j["pushed"] = {{"reference", *args.value("--push")},
                           {"digest", built.pushed->manifest_digest.to_string()},
                           {"uploaded", built.pushed->uploaded.size()},
                           {"skipped", built.pushed->skipped.size()}};
        }
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("%s %s\n", r.name.c_str(), r.manifest.digest.to_string().c_str());
        if (built.pushed) {
            std::printf("%s %s\n", args.value("--push")->c_str(),
                        built.pushed->manifest_digest.to_string().c_str());
        }
    }
    return 0;
}

}  // namespace envpack::cli
