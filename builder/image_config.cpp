#include "builder/image_config.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/base_build.h"
#include "builder/import.h"

namespace envpack {

std::vector<std::string> virtual_overrides_from_labels(
    const std::map<std::string, std::string>& labels) {
    std::vector<std::string> out;
    auto it = labels.find(k_label_virtual_packages);
    if (it == labels.end()) {
        return out;
    }
    const std::string& text = it->second;
    if (text.find_first_not_of(" \t\n") != std::string::npos &&
        text[text.find_first_not_of(" \t\n")] == '{') {
        // The JSON object `envpack base build` writes: {"__cuda": "12.4", ...}.
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_object()) {
            for (const auto& [name, version] : j.items()) {
                out.push_back(name + "=" +
                              (version.is_string() ? version.get<std::string>() : version.dump()));
            }
            return out;
        }
    }
    std::string token;
    for (char c : text + " ") {
        if (c == ' ' || c == ',' || c == '\t' || c == '\n') {
            if (!token.empty()) {
                out.push_back(std::move(token));
                token.clear();
            }
        } else {
            token += c;
        }
    }
    return out;
}

ImageConfig render_env_config(ImageConfig config, const EnvConfigInputs& in) {
    std::string base_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    std::vector<std::string> env_out;
    for (const auto& kv : config.env) {
        if (kv.starts_with("PATH=")) {
            base_path = kv.substr(5);
        } else if (!kv.starts_with("CONDA_PREFIX=") && !kv.starts_with("CONDA_DEFAULT_ENV=")) {
            env_out.push_back(kv);
        }
    }
    env_out.push_back(fmt::format("PATH={}/bin:{}", in.prefix, base_path));
    env_out.push_back("CONDA_PREFIX=" + in.prefix);
    env_out.push_back("CONDA_DEFAULT_ENV=" + in.prefix);
    for (const auto& [k, v] : in.variables) {
        std::erase_if(env_out, [&k](const std::string& s) { return s.starts_with(k + "="); });
        env_out.push_back(k + "=" + v);
    }
    config.env = std::move(env_out);
    config.created = rfc3339(in.source_date_epoch.value_or(0));
    for (const auto& [k, v] : in.labels) {
        config.labels[k] = v;
    }
    for (const auto& l : in.layers) {
        config.diff_ids.push_back(l.diff_id);
        config.history.push_back(
            nlohmann::json{{"created", config.created}, {"created_by", l.created_by}});
    }
    return config;
}

}  // namespace envpack
