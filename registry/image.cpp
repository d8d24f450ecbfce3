#include "registry/image.h"

#include <fmt/format.h>

#include "core/error.h"

namespace envpack {

using nlohmann::json;

std::string Platform::to_string() const {
    std::string s = os + "/" + architecture;
    if (!variant.empty()) {
        s += "/" + variant;
    }
    return s;
}

std::optional<Platform> Platform::parse(std::string_view text) {
    Platform p;
    auto slash = text.find('/');
    if (slash == std::string_view::npos || slash == 0) {
        return std::nullopt;
    }
    p.os = std::string(text.substr(0, slash));
    std::string_view rest = text.substr(slash + 1);
    auto slash2 = rest.find('/');
    p.architecture = std::string(rest.substr(0, slash2));
    if (slash2 != std::string_view::npos) {
        p.variant = std::string(rest.substr(slash2 + 1));
    }
    if (p.architecture.empty()) {
        return std::nullopt;
    }
    return p;
}

json Descriptor::to_json() const {
    json j = {{"mediaType", media_type}, {"digest", digest.to_string()}, {"size", size}};
    if (!annotations.empty()) {
        j["annotations"] = annotations;
    }
    if (platform) {
        j["platform"] = {{"os", platform->os}, {"architecture", platform->architecture}};
        if (!platform->variant.empty()) {
            j["platform"]["variant"] = platform->variant;
        }
    }
    return j;
}

static Error malformed(std::string_view where, std::string_view what) {
    return bad_input(fmt::format("{}: {}", where, what));
}

Descriptor Descriptor::from_json(const json& j, std::string_view where) {
    if (!j.is_object()) {
        throw malformed(where, "descriptor is not a JSON object");
    }
    Descriptor d;
    if (!j.contains("digest") || !j["digest"].is_string()) {
        throw malformed(where, "descriptor has no string `digest`");
    }
    auto dg = Digest::parse(j["digest"].get<std::string>());
    if (!dg) {
        throw malformed(where, fmt::format("descriptor digest `{}` is not sha256",
                                           j["digest"].get<std::string>()));
    }
    d.digest = *dg;
    if (!j.contains("size") || !j["size"].is_number_integer() ||
        j["size"].get<std::int64_t>() < 0) {
        throw malformed(where, "descriptor has no non-negative integer `size`");
    }
    d.size = j["size"].get<std::int64_t>();
    if (j.contains("mediaType") && j["mediaType"].is_string()) {
        d.media_type = j["mediaType"].get<std::string>();
    }
    if (j.contains("annotations") && j["annotations"].is_object()) {
        for (const auto& [k, v] : j["annotations"].items()) {
            if (v.is_string()) {
                d.annotations[k] = v.get<std::string>();
            }
        }
    }
    if (j.contains("platform") && j["platform"].is_object()) {
        Platform p;
        p.os = j["platform"].value("os", "");
        p.architecture = j["platform"].value("architecture", "");
        p.variant = j["platform"].value("variant", "");
        d.platform = p;
    }
    return d;
}

std::string Manifest::to_bytes() const {
    json j = {{"schemaVersion", 2}, {"mediaType", media_type}, {"config", config.to_json()}};
    j["layers"] = json::array();
    for (const auto& l : layers) {
        j["layers"].push_back(l.to_json());
    }
    if (!annotations.empty()) {
        j["annotations"] = annotations;
    }
    return j.dump();
}

Manifest Manifest::parse(std::string_view bytes, std::string_view where) {
    json j = json::parse(bytes, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        throw malformed(where, "manifest is not a JSON object");
    }
    Manifest m;
    m.media_type = j.value("mediaType", std::string(media_type::k_oci_manifest));
    if (!j.contains("config")) {
        throw malformed(where, "manifest has no `config`");
    }
    m.config = Descriptor::from_json(j["config"], where);
    if (!j.contains("layers") || !j["layers"].is_array()) {
        throw malformed(where, "manifest has no `layers` array");
    }
    for (const auto& l : j["layers"]) {
        m.layers.push_back(Descriptor::from_json(l, where));
    }
    if (j.contains("annotations") && j["annotations"].is_object()) {
        for (const auto& [k, v] : j["annotations"].items()) {
            if (v.is_string()) {
                m.annotations[k] = v.get<std::string>();
            }
        }
    }
    return m;
}

std::string ImageConfig::to_bytes() const {
    json j = raw.is_object() ? raw : json::object();
    j["architecture"] = platform.architecture;
    j["os"] = platform.os;
    if (!platform.variant.empty()) {
        j["variant"] = platform.variant;
    }
    if (!created.empty()) {
        j["created"] = created;
    }
    json c = j.contains("config") && j["config"].is_object() ? j["config"] : json::object();
    auto set_or_erase = [&](const char* key, const auto& value, bool present) {
        if (present) {
            c[key] = value;
        } else {
            c.erase(key);
        }
    };
    set_or_erase("Env", env, !env.empty());
    set_or_erase("Entrypoint", entrypoint, !entrypoint.empty());
    set_or_erase("Cmd", cmd, !cmd.empty());
    set_or_erase("WorkingDir", working_dir, !working_dir.empty());
    set_or_erase("User", user, !user.empty());
    set_or_erase("Labels", labels, !labels.empty());
    j["config"] = c;
    json ids = json::array();
    for (const auto& d : diff_ids) {
        ids.push_back(d.to_string());
    }
    j["rootfs"] = {{"type", "layers"}, {"diff_ids", ids}};
    if (!history.empty()) {
        j["history"] = history;
    } else {
        j.erase("history");
    }
    return j.dump();
}

ImageConfig ImageConfig::parse(std::string_view bytes, std::string_view where) {
    json j = json::parse(bytes, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        throw malformed(where, "image config is not a JSON object");
    }
    ImageConfig cfg;
    cfg.raw = j;
    cfg.platform.architecture = j.value("architecture", "");
    cfg.platform.os = j.value("os", "");
    cfg.platform.variant = j.value("variant", "");
    cfg.created = j.value("created", "");
    if (j.contains("config") && j["config"].is_object()) {
        const json& c = j["config"];
        auto strings = [&](const char* key) {
            std::vector<std::string> out;
            if (c.contains(key) && c[key].is_array()) {
                for (const auto& v : c[key]) {
                    if (v.is_string()) {
                        out.push_back(v.get<std::string>());
                    }
                }
            }
            return out;
        };
        cfg.env = strings("Env");
        cfg.entrypoint = strings("Entrypoint");
        cfg.cmd = strings("Cmd");
        if (c.contains("WorkingDir") && c["WorkingDir"].is_string()) {
            cfg.working_dir = c["WorkingDir"].get<std::string>();
        }
        if (c.contains("User") && c["User"].is_string()) {
            cfg.user = c["User"].get<std::string>();
        }
        if (c.contains("Labels") && c["Labels"].is_object()) {
            for (const auto& [k, v] : c["Labels"].items()) {
                if (v.is_string()) {
                    cfg.labels[k] = v.get<std::string>();
                }
            }
        }
    }
    if (j.contains("rootfs") && j["rootfs"].is_object() && j["rootfs"].contains("diff_ids")) {
        for (const auto& d : j["rootfs"]["diff_ids"]) {
            if (!d.is_string()) {
                throw malformed(where, "rootfs.diff_ids holds a non-string");
            }
            cfg.diff_ids.push_back(Digest::parse_or_throw(d.get<std::string>(), "diff_id"));
        }
    }
    if (j.contains("history") && j["history"].is_array()) {
        for (const auto& h : j["history"]) {
            cfg.history.push_back(h);
        }
    }
    return cfg;
}

std::string layer_media_type(std::string_view compression) {
    if (compression == "gzip") {
        return media_type::k_oci_layer_gzip;
    }
    if (compression == "zstd") {
        return media_type::k_oci_layer_zstd;
    }
    return media_type::k_oci_layer_tar;
}

}  // namespace envpack
