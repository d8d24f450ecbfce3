#include "resolver/condarc.h"

#include <cstdlib>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/yaml.h"
#include "resolver/channel.h"
#include "resolver/env_file.h"
#include "resolver/solver.h"

namespace envpack {

namespace {

std::string without_trailing_slash(std::string s) {
    while (!s.empty() && s.back() == '/') {
        s.pop_back();
    }
    return s;
}

std::vector<std::string> string_list(const yaml::Value& v) {
    std::vector<std::string> out;
    for (const auto& item : v.items()) {
        out.push_back(item.str());
    }
    return out;
}

bool is_url_or_path(std::string_view c) {
    return c.find("://") != std::string_view::npos || c.starts_with('/') || c.starts_with("./") ||
           c.starts_with("../") || c.starts_with("~/") || c == "." || c == "..";
}

}  // namespace

Condarc Condarc::parse(std::string_view text, const std::filesystem::path& file) {
    yaml::Document doc = yaml::Document::parse(text, file.string());
    yaml::Value root(doc, doc.root(), "", "see conda's .condarc reference");
    Condarc rc;
    if (root.is_null()) {
        return rc;
    }
    if (!root.is_map()) {
        root.fail("a .condarc must be a mapping");
    }
    for (const auto& v : root.entries()) {
        const std::string& key = v.key();
        if (key == "channels") {
            rc.channels = string_list(v);
        } else if (key == "channel_alias") {
            rc.channel_alias = without_trailing_slash(v.str());
        } else if (key == "default_channels") {
            rc.default_channels.clear();
            for (auto& c : string_list(v)) {
                rc.default_channels.push_back(without_trailing_slash(std::move(c)));
            }
        } else if (key == "custom_channels") {
            for (const auto& e : v.entries()) {
                rc.custom_channels[e.key()] = without_trailing_slash(e.str());
            }
        } else if (key == "channel_priority") {
            std::string p = v.one_of({"strict", "flexible", "disabled"});
            rc.channel_priority = p == "strict"     ? CondarcPriority::strict
                                  : p == "flexible" ? CondarcPriority::flexible
                                                    : CondarcPriority::disabled;
        }
    }
    return rc;
}

Condarc Condarc::load(const std::filesystem::path& file) {
    std::string text;
    try {
        text = read_file(file);
    } catch (const Error& e) {
        throw Error(ErrorKind::bad_input,
                    fmt::format("read .condarc `{}`: {}", file.string(), e.what()),
                    "point CONDARC at a readable file, or unset it");
    }
    return parse(text, file);
}

std::optional<std::filesystem::path> Condarc::locate(const char* condarc_env,
                                                     const std::filesystem::path& home) {
    if (condarc_env != nullptr && *condarc_env != '\0') {
        return std::filesystem::path(condarc_env);
    }
    if (home.empty()) {
        return std::nullopt;
    }
    std::filesystem::path p = home / ".condarc";
    std::error_code ec;
    if (std::filesystem::exists(p, ec)) {
        return p;
    }
    return std::nullopt;
}

std::vector<std::string> Condarc::expand(std::string_view channel) const {
    std::string c = without_trailing_slash(std::string(channel));
    if (c == "defaults") {
        return default_channels;
    }
    if (is_url_or_path(c)) {
        return {c};
    }
    // A custom channel by its first component (`NAME` or `NAME/label/dev`).
    std::string first = c.substr(0, c.find('/'));
    if (auto it = custom_channels.find(first); it != custom_channels.end()) {
        return {it->second + "/" + c};
    }
    return {channel_alias + "/" + c};
}

std::vector<std::pair<std::string, size_t>> Condarc::channels_for(
    const std::vector<std::string>& written) const {
    std::vector<std::pair<std::string, size_t>> out;
    const bool own = written.empty();
    const std::vector<std::string>& list = own ? channels : written;
    for (size_t i = 0; i < list.size(); ++i) {
        const std::string& c = list[i];
        size_t from = own ? SIZE_MAX : i;
        std::string first = c.substr(0, c.find('/'));
        if (c == "defaults" || (!is_url_or_path(c) && custom_channels.contains(first))) {
            for (auto& url : expand(c)) {
                out.emplace_back(std::move(url), from);
            }
        } else {
            out.emplace_back(c, from);
        }
    }
    return out;
}

std::optional<std::pair<Condarc, std::filesystem::path>> condarc_from_environment() {
    const char* home = std::getenv("HOME");
    auto path = Condarc::locate(std::getenv("CONDARC"), home != nullptr ? home : "");
    if (!path) {
        return std::nullopt;
    }
    return std::make_pair(Condarc::load(*path), *path);
}

void apply_condarc(const Condarc& rc, EnvSpec& spec, ChannelOptions& channels,
                   SolverOptions& solver, AliasFrom alias) {
    if (alias == AliasFrom::condarc) {
        channels.channel_alias = rc.channel_alias;
    }
    if (rc.channel_priority == CondarcPriority::disabled) {
        solver.channel_priority = ChannelPriority::disabled;
    }
    std::vector<std::string> texts;
    std::vector<SourcePos> positions;
    for (auto& [channel, from] : rc.channels_for(spec.channels)) {
        texts.push_back(std::move(channel));
        positions.push_back(from < spec.channel_pos.size() ? spec.channel_pos[from] : SourcePos{});
    }
    spec.channels = std::move(texts);
    spec.channel_pos = std::move(positions);
}

}  // namespace envpack
