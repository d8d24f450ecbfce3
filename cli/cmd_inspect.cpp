// envpack inspect REF [--json]
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/context.h"
#include "core/log.h"
#include "registry/reference.h"
#include "registry/store.h"

namespace envpack::cli {

namespace {

// A user may name an image as written (`demo/env`) or as stored (`demo/env:latest`).
std::string store_name_for(const std::string& text) {
    if (Digest::parse(text)) {
        return text;
    }
    return ImageRef::parse(text).store_name();
}

}  // namespace

int cmd_inspect(Context& ctx, const std::vector<std::string>& argv) {
    Args args("inspect", argv, {{"--json", "", false}});
    std::string name = store_name_for(args.positional(0, "REF"));
    args.expect_at_most(1);
    Store store(ctx.store_dir());
    Descriptor md = store.resolve_or_throw(name);
    Manifest m = store.read_manifest(md);
    ImageConfig c = store.read_config(m);
    // History entries that are not empty_layer describe the layers in order.
    std::vector<std::string> created_by;
    for (const auto& h : c.history) {
        if (!h.value("empty_layer", false)) {
            created_by.push_back(h.value("created_by", std::string()));
        }
    }
    nlohmann::json layers = nlohmann::json::array();
    std::int64_t total = 0;
    for (size_t i = 0; i < m.layers.size(); ++i) {
        const auto& l = m.layers[i];
        nlohmann::json lj = {
            {"digest", l.digest.to_string()}, {"size", l.size}, {"mediaType", l.media_type}};
        if (i < c.diff_ids.size()) {
            lj["diff_id"] = c.diff_ids[i].to_string();
        }
        if (i < created_by.size() && !created_by[i].empty()) {
            lj["created_by"] = created_by[i];
        }
        layers.push_back(lj);
        total += l.size;
    }
    if (args.flag("--json")) {
        nlohmann::json j = {{"reference", name},
                            {"digest", md.digest.to_string()},
                            {"mediaType", m.media_type},
                            {"config",
                             {{"digest", m.config.digest.to_string()},
                              {"size", m.config.size},
                              {"mediaType", m.config.media_type}}},
                            {"platform", c.platform.to_string()},
                            {"created", c.created},
                            {"env", c.env},
                            {"layers", layers},
                            {"labels", c.labels},
                            {"annotations", m.annotations},
                            {"size", total}};
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf(
        "Reference: %s\nDigest:    %s\nPlatform:  %s\nCreated:   %s\nSize:      %s in %zu "
        "layer(s)\n",
        name.c_str(), md.digest.to_string().c_str(), c.platform.to_string().c_str(),
        c.created.c_str(), human_bytes(static_cast<std::uint64_t>(total)).c_str(), m.layers.size());
    std::printf("Layers:\n");
    for (const auto& l : m.layers) {
        std::printf("  %s  %10s  %s\n", l.digest.to_string().c_str(),
                    human_bytes(static_cast<std::uint64_t>(l.size)).c_str(), l.media_type.c_str());
    }
    if (!c.env.empty()) {
        std::printf("Env:\n");
        for (const auto& e : c.env) {
            std::printf("  %s\n", e.c_str());
        }
    }
    if (!c.labels.empty()) {
        std::printf("Labels:\n");
        for (const auto& [k, v] : c.labels) {
            std::printf("  %s=%s\n", k.c_str(), v.c_str());
        }
    }
    for (const auto& [k, v] : m.annotations) {
        std::printf("Annotation: %s=%s\n", k.c_str(), v.c_str());
    }
    return 0;
}

}  // namespace envpack::cli
