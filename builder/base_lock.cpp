#include "builder/base_lock.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hasher.h"

namespace envpack {

std::string BaseLock::to_json() const {
    nlohmann::json pk = nlohmann::json::array();
    for (const auto& p : packages) {
        pk.push_back({{"name", p.name},
                      {"version", p.version},
                      {"architecture", p.architecture},
                      {"filename", p.filename},
                      {"size", p.size},
                      {"sha256", p.sha256},
                      {"auto", p.automatic}});
    }
    nlohmann::json j = {{"envpack-base-lock", version},
                        {"debian_key", debian_key},
                        {"suite", suite},
                        {"architecture", architecture},
                        {"packages", pk}};
    return j.dump(2) + "\n";
}

BaseLock BaseLock::parse(std::string_view text, std::string_view where) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    auto bad = [&](std::string_view why) {
        return bad_input(fmt::format("`{}` is not a base lock: {}", where, why),
                         "delete it (or run `envpack base build --update`) to resolve again");
    };
    if (j.is_discarded() || !j.is_object()) {
        throw bad("not a JSON object");
    }
    BaseLock l;
    try {
        l.version = j.at("envpack-base-lock").get<int>();
        if (l.version != 1) {
            throw bad(fmt::format("unknown version {}", l.version));
        }
        l.debian_key = j.at("debian_key").get<std::string>();
        l.suite = j.at("suite").get<std::string>();
        l.architecture = j.at("architecture").get<std::string>();
        for (const auto& p : j.at("packages")) {
            LockedDeb d;
            d.name = p.at("name").get<std::string>();
            d.version = p.at("version").get<std::string>();
            d.architecture = p.at("architecture").get<std::string>();
            d.filename = p.at("filename").get<std::string>();
            d.size = p.at("size").get<std::uint64_t>();
            d.sha256 = p.at("sha256").get<std::string>();
            d.automatic = p.at("auto").get<bool>();
            if (d.filename.find('/') != std::string::npos || d.filename.starts_with(".")) {
                throw bad(fmt::format("package `{}` has an unsafe file name", d.name));
            }
            l.packages.push_back(std::move(d));
        }
    } catch (const nlohmann::json::exception& e) {
        throw bad(e.what());
    }
    std::sort(l.packages.begin(), l.packages.end(),
              [](const LockedDeb& a, const LockedDeb& b) { return a.name < b.name; });
    return l;
}

const LockedDeb* BaseLock::find(std::string_view name) const {
    for (const auto& p : packages) {
        if (p.name == name) {
            return &p;
        }
    }
    return nullptr;
}

Digest BaseLock::content_digest() const {
    Hasher h("envpack.base.lock-content.v1");
    h.add("suite", suite);
    h.add("architecture", architecture);
    for (const auto& p : packages) {
        h.add("name", p.name);
        h.add("version", p.version);
        h.add("architecture", p.architecture);
        h.add("sha256", p.sha256);
        h.add("auto", p.automatic);
    }
    return h.finish();
}

namespace {

// Calls `fn(fields)` for each stanza of a deb822 text (continuation lines dropped).
template <class Fn>
void for_each_stanza(std::string_view text, Fn fn) {
    std::map<std::string, std::string> fields;
    std::string last;
    auto flush = [&] {
        if (!fields.empty()) {
            fn(fields);
        }
        fields.clear();
        last.clear();
    };
    size_t start = 0;
    while (start <= text.size()) {
        size_t nl = text.find('\n', start);
        std::string_view line =
            text.substr(start, nl == std::string_view::npos ? text.size() - start : nl - start);
        start = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        if (line.empty()) {
            flush();
            continue;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            continue;
        }
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        fields[std::string(line.substr(0, colon))] = std::string(value);
    }
    flush();
}

}  // namespace

std::vector<InstalledPackage> parse_dpkg_status(std::string_view status) {
    std::vector<InstalledPackage> out;
    for_each_stanza(status, [&](const std::map<std::string, std::string>& f) {
        auto st = f.find("Status");
        if (st == f.end() || st->second != "install ok installed" || !f.contains("Package")) {
            return;
        }
        InstalledPackage p;
        p.name = f.at("Package");
        p.version = f.contains("Version") ? f.at("Version") : "";
        p.architecture = f.contains("Architecture") ? f.at("Architecture") : "";
        out.push_back(std::move(p));
    });
    std::sort(out.begin(), out.end(),
              [](const InstalledPackage& a, const InstalledPackage& b) { return a.name < b.name; });
    return out;
}

std::set<std::string> parse_extended_states(std::string_view text) {
    std::set<std::string> out;
    for_each_stanza(text, [&](const std::map<std::string, std::string>& f) {
        auto a = f.find("Auto-Installed");
        if (a != f.end() && a->second == "1" && f.contains("Package")) {
            out.insert(f.at("Package"));
        }
    });
    return out;
}

std::string render_extended_states(const BaseLock& lock) {
    std::string out;
    for (const auto& p : lock.packages) {
        if (p.automatic) {
            out += fmt::format("Package: {}\nArchitecture: {}\nAuto-Installed: 1\n\n", p.name,
                               p.architecture);
        }
    }
    return out;
}

std::string deb_filename(const InstalledPackage& p) {
    std::string v = p.version;
    if (auto colon = v.find(':'); colon != std::string::npos) {
        v = v.substr(0, colon) + "%3a" + v.substr(colon + 1);
    }
    return fmt::format("{}_{}_{}.deb", p.name, v, p.architecture);
}

std::string debian_upstream_version(std::string_view version) {
    if (auto colon = version.find(':'); colon != std::string_view::npos) {
        version.remove_prefix(colon + 1);
    }
    if (auto dash = version.rfind('-'); dash != std::string_view::npos) {
        version = version.substr(0, dash);
    }
    return std::string(version);
}

}  // namespace envpack
