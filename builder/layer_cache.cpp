#include "builder/layer_cache.h"

#include <nlohmann/json.hpp>

#include "builder/conda_install.h"
#include "core/error.h"
#include "core/fs.h"

namespace envpack {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<json> read_json_file(const fs::path& p) {
    std::error_code ec;
    if (!fs::exists(p, ec)) {
        return std::nullopt;
    }
    try {
        return json::parse(read_file(p));
    } catch (const std::exception&) {
        return std::nullopt;  // a damaged cache entry is a miss
    }
}

}  // namespace

CachedPackage CachedPackage::from_installed(const InstalledPackage& p) {
    CachedPackage r{p.dist(),  p.name,      p.version,   p.build, p.license,
                    p.channel, p.meta_file, p.meta_json, {},      p.installed_size};
    for (const auto& e : p.entries) {
        if (e.type != EntryType::directory) {
            r.paths.push_back(e.path);
        }
    }
    return r;
}

LayerCache::LayerCache(fs::path dir) : m_dir(std::move(dir)) {
    make_dirs(m_dir);
}

std::optional<CachedPackage> LayerCache::find_package(const Digest& install_key) const {
    auto j = read_json_file(m_dir / ("pkg-" + install_key.hex() + ".json"));
    if (!j) {
        return std::nullopt;
    }
    try {
        CachedPackage r;
        r.dist = j->at("dist");
        r.name = j->at("name");
        r.version = j->at("version");
        r.build = j->at("build");
        r.license = j->at("license");
        r.channel = j->at("channel");
        r.meta_file = j->at("meta_file");
        r.meta_json = j->at("meta_json");
        r.paths = j->at("paths").get<std::vector<std::string>>();
        r.installed_size = j->at("installed_size");
        return r;
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

void LayerCache::put_package(const Digest& install_key, const CachedPackage& r) const {
    json j{{"dist", r.dist},           {"name", r.name},
           {"version", r.version},     {"build", r.build},
           {"license", r.license},     {"channel", r.channel},
           {"meta_file", r.meta_file}, {"meta_json", r.meta_json},
           {"paths", r.paths},         {"installed_size", r.installed_size}};
    write_file_atomic(m_dir / ("pkg-" + install_key.hex() + ".json"), j.dump(), Durability::none);
}

std::optional<CachedLayer> LayerCache::find_layer(const Digest& layer_key) const {
    auto j = read_json_file(m_dir / (layer_key.hex() + ".json"));
    if (!j) {
        return std::nullopt;
    }
    auto digest = Digest::parse(j->value("digest", ""));
    auto diff_id = Digest::parse(j->value("diff_id", ""));
    if (!digest || !diff_id) {
        return std::nullopt;
    }
    CachedLayer out;
    out.descriptor.media_type = j->value("media_type", "");
    out.descriptor.digest = *digest;
    out.descriptor.size = j->value("size", std::int64_t{0});
    out.diff_id = *diff_id;
    return out;
}

void LayerCache::put_layer(const Digest& layer_key, const LayerResult& r) const {
    json j{{"digest", r.digest.to_string()},
           {"diff_id", r.diff_id.to_string()},
           {"size", r.size},
           {"media_type", r.media_type}};
    write_file_atomic(m_dir / (layer_key.hex() + ".json"), j.dump(), Durability::none);
}

BuildIndex::BuildIndex(fs::path dir) : m_dir(std::move(dir)) {
    make_dirs(m_dir);
}

std::optional<Descriptor> BuildIndex::find(const std::string& build_key) const {
    auto j = read_json_file(m_dir / build_key);
    if (!j || !j->contains("manifest")) {
        return std::nullopt;
    }
    try {
        return Descriptor::from_json(j->at("manifest"), "build cache");
    } catch (const Error&) {
        return std::nullopt;
    }
}

void BuildIndex::put(const std::string& build_key, const Descriptor& manifest) const {
    write_file_atomic(m_dir / build_key, json{{"manifest", manifest.to_json()}}.dump(),
                      Durability::none);
}

}  // namespace envpack
