#include "builder/manifest_assembly.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace envpack {

std::vector<LayerEntry> conda_meta_entries(const std::string& prefix,
                                           const std::vector<CachedPackage>& packages,
                                           const std::string& env_file_name) {
    const std::string prefix_rel = prefix.substr(1);
    std::vector<LayerEntry> meta;
    std::string history = fmt::format("==> {} <==\n# cmd: envpack build -f {}\n",
                                      "1970-01-01 00:00:00", env_file_name);
    for (const auto& p : packages) {
        LayerEntry e;
        e.path = prefix_rel + "/" + p.meta_file;
        e.data = p.meta_json;
        e.size = e.data.size();
        meta.push_back(std::move(e));
        history += fmt::format("+{}::{}\n", p.channel, p.dist);
    }
    LayerEntry h;
    h.path = prefix_rel + "/conda-meta/history";
    h.data = history;
    h.size = h.data.size();
    meta.push_back(std::move(h));
    LayerEntry bin;
    bin.path = prefix_rel + "/bin";
    bin.type = EntryType::directory;
    bin.mode = 0755;
    meta.push_back(std::move(bin));
    return meta;
}

std::string package_list_label(const std::vector<CachedPackage>& packages) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& p : packages) {
        list.push_back(nlohmann::json{{"name", p.name},
                                      {"version", p.version},
                                      {"build", p.build},
                                      {"channel", p.channel},
                                      {"license", p.license}});
    }
    return list.dump();
}

Manifest assemble_manifest(const Manifest& base_manifest, const std::vector<Descriptor>& layers,
                           const Descriptor& config, const std::optional<BaseImage>& base,
                           const std::string& created) {
    Manifest manifest;
    manifest.config = config;
    manifest.layers = base_manifest.layers;
    manifest.layers.insert(manifest.layers.end(), layers.begin(), layers.end());
    manifest.annotations[annotation::k_created] = created;
    if (base) {
        manifest.annotations[annotation::k_base_name] = base->name;
        manifest.annotations[annotation::k_base_digest] = base->digest.to_string();
    }
    return manifest;
}

}  // namespace envpack
