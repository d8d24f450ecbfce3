// envpack push SRC [DEST]: send an image from the local store to a registry.
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/context.h"
#include "core/error.h"
#include "registry/client.h"
#include "registry/store.h"

namespace envpack::cli {

std::vector<OptionSpec> registry_option_specs() {
    return {
        {"--insecure-registry", "", true},
        {"--ca-cert", "", true},
        {"--parallel", "", true},
        {"--retries", "", true},
        {"--chunk-size", "", true},
        {"--authfile", "", true},
        {"--json", "", false},
    };
}

RegistryOptions registry_options_from(const Args& args) {
    RegistryOptions o;
    o.insecure_hosts = args.values("--insecure-registry");
    if (auto ca = args.value("--ca-cert")) {
        if (!std::filesystem::exists(*ca)) {
            throw bad_input(fmt::format("--ca-cert: `{}` does not exist", *ca));
        }
        o.ca_cert = *ca;
    }
    if (auto n = args.uint_value("--parallel")) {
        if (*n == 0 || *n > 64) {
            throw bad_input("--parallel: give a number from 1 to 64");
        }
        o.parallel = static_cast<unsigned>(*n);
    }
    if (auto n = args.uint_value("--retries")) {
        o.retries = static_cast<int>(std::min<unsigned long long>(*n, 20));
    }
    if (auto n = args.uint_value("--chunk-size")) {
        if (*n < 1024) {
            throw bad_input("--chunk-size: give at least 1024 bytes");
        }
        o.chunk_size = *n;
    }
    if (auto f = args.value("--authfile")) {
        o.auth_file = *f;
    }
    return o;
}

namespace {

nlohmann::json digests(const std::vector<Digest>& ds) {
    auto out = nlohmann::json::array();
    for (const auto& d : ds) {
        out.push_back(d.to_string());
    }
    return out;
}

}  // namespace

int cmd_push(Context& ctx, const std::vector<std::string>& argv) {
    Args args("push", argv, registry_option_specs());
    args.expect_at_most(2);
    std::string source = args.positional(0, "the image to push (SRC)");
    ImageRef src = ImageRef::parse(source);
    ImageRef dest = argv.size() > 1 && args.positionals().size() > 1
                        ? ImageRef::parse(args.positionals()[1])
                        : src;
    if (dest.domain().empty()) {
        throw bad_input(fmt::format("push: `{}` names no registry", dest.to_string()),
                        "give a destination with a registry host, e.g. `envpack push demo/env:1 "
                        "localhost:5000/demo/env:1`");
    }
    RegistryOptions options = registry_options_from(args);
    options.blob_location_cache = ctx.home / "registry-blobs.json";
    Store store(ctx.store_dir());
    RegistryClient client(options, ctx.log);
    PushResult r = client.push(store, src.store_name(), dest);
    if (args.flag("--json")) {
        nlohmann::json j = {
            {"reference", dest.to_string()},      {"digest", r.manifest_digest.to_string()},
            {"media_type", r.media_type},         {"skipped", digests(r.skipped)},
            {"mounted", digests(r.mounted)},      {"uploaded", digests(r.uploaded)},
            {"bytes_uploaded", r.bytes_uploaded},
        };
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        ctx.log.infof("pushed {} blobs ({}), mounted {}, skipped {} already there",
                      r.uploaded.size(), human_bytes(r.bytes_uploaded), r.mounted.size(),
                      r.skipped.size());
        std::printf("%s@%s\n", dest.to_string().c_str(), r.manifest_digest.to_string().c_str());
    }
    return 0;
}

}  // namespace envpack::cli
