// envpack build -f ENV.yml [--lock FILE] [--base REF] [-t NAME[:TAG]] [--compression gzip|zstd]
//               [--max-layers N] [--prefix /opt/conda] [--push REF] [--explain] [--json]
// A --base REF that names a registry and is not in the store is pulled first; --push sends the
// result with the registry client (registry/client.h), with push's registry options.
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "builder/image_build.h"
#include "builder/layer.h"
#include "cli/args.h"
#include "cli/context.h"
#include "core/error.h"
#include "core/http.h"
#include "registry/client.h"
#include "registry/reference.h"

namespace envpack::cli {

int cmd_build(Context& ctx, const std::vector<std::string>& argv) {
    std::vector<OptionSpec> specs = registry_option_specs();  // --parallel and --json among them
    for (OptionSpec o : std::initializer_list<OptionSpec>{{"--file", "-f", true},
                                                          {"--lock", "", true},
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
    BuildOptions options;
    auto file = args.value("--file");
    if (!file) {
        throw bad_input("build: missing -f ENV.yml",
                        "name the environment file: envpack build -f environment.yml");
    }
    options.env_file = *file;
    if (auto l = args.value("--lock")) {
        options.lock_file = *l;
    }
    std::optional<ImageRef> base_ref;
    if (auto b = args.value("--base")) {
        base_ref = ImageRef::parse(*b);
        options.base = base_ref->store_name();
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
    if (auto p = args.value("--platform")) {
        options.platform = *p;
    }
    options.source_date_epoch = source_date_epoch_from_env();
    options.home = ctx.home;
    Store store(ctx.store_dir());
    if (base_ref && !base_ref->domain().empty() && !store.resolve(*options.base)) {
        // A base named with its registry and not in the store yet: pull it first.
        RegistryClient client(registry_options_from(args), ctx.log);
        client.pull(store, *base_ref);
    }
    // With --push, the target repository is a second-level build cache, as Azure ML keys images
    // in its registry by the environment's hash: tag `envpack-<key>` beside the pushed tag.
    std::optional<ImageRef> push_ref;
    if (auto dest = args.value("--push")) {
        push_ref = ImageRef::parse(*dest);
    }
    auto cache_ref = [&](const std::string& key) {
        const ImageRef& p = *push_ref;
        return ImageRef::parse((p.domain().empty() ? p.path() : p.domain() + "/" + p.path()) +
                               ":envpack-" + key.substr(0, 32));
    };
    if (push_ref) {
        options.remote_cache = [&](const std::string& key, const std::string& name) {
            ImageRef cached = cache_ref(key);
            try {
                RegistryClient client(registry_options_from(args), ctx.log);
                if (!client.resolve(cached)) {
                    return false;
                }
                PullResult pulled = client.pull(store, cached);
                store.tag(name, store.resolve_or_throw(pulled.stored_name));
                return true;
            } catch (const Error& e) {
                ctx.log.warnf("build cache at {}: {} (building instead)", cached.to_string(),
                              e.what());
                return false;
            }
        };
    }
    HttpClient http;
    BuildResult r = build_image(store, options, &http, ctx.log);
    std::optional<PushResult> pushed;
    if (push_ref) {
        RegistryClient client(registry_options_from(args), ctx.log);
        pushed = client.push(store, r.name, *push_ref);
        if (!r.cached_remote) {
            // The cache tag: blobs are all there now, so this is HEADs and one manifest PUT.
            client.push(store, r.name, cache_ref(r.build_key));
        }
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
                            {"explain", r.explain}};
        if (pushed) {
            j["pushed"] = {{"reference", *args.value("--push")},
                           {"digest", pushed->manifest_digest.to_string()},
                           {"uploaded", pushed->uploaded.size()},
                           {"skipped", pushed->skipped.size()}};
        }
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("%s %s\n", r.name.c_str(), r.manifest.digest.to_string().c_str());
        if (pushed) {
            std::printf("%s %s\n", args.value("--push")->c_str(),
                        pushed->manifest_digest.to_string().c_str());
        }
    }
    return 0;
}

}  // namespace envpack::cli
