#include "builder/base_layers.h"

#include <algorithm>
#include <unordered_map>

namespace envpack {

std::vector<std::string> parse_dpkg_list(std::string_view text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        std::string_view line =
            text.substr(start, nl == std::string_view::npos ? text.size() - start : nl - start);
        start = nl == std::string_view::npos ? text.size() : nl + 1;
        while (!line.empty() && line.front() == '/') {
            line.remove_prefix(1);
        }
        while (!line.empty() && line.back() == '/') {
            line.remove_suffix(1);
        }
        if (line == ".") {
            line = {};
        }
        out.emplace_back(line);
    }
    return out;
}

std::string group_of_package(const std::vector<LayerGroupRule>& rules, std::string_view package) {
    for (const auto& r : rules) {
        for (const auto& p : r.patterns) {
            if (glob_match(p, package)) {
                return r.name;
            }
        }
    }
    return "system";
}

namespace {

std::string_view parent_of(std::string_view p) {
    size_t slash = p.rfind('/');
    return slash == std::string_view::npos ? std::string_view{} : p.substr(0, slash);
}

struct Owner {
    std::string first_package;
    std::set<std::string> groups;
};

}  // namespace

std::vector<DebianLayer> plan_debian_layers(const std::vector<LayerGroupRule>& rules,
                                            const DpkgOwnership& ownership,
                                            std::vector<LayerEntry> entries) {
    // Merged /usr: packages list /bin/x while the file is at usr/bin/x.
    std::map<std::string, std::string> aliases;
    for (const auto& e : entries) {
        if (e.type == EntryType::symlink && e.path.find('/') == std::string::npos &&
            e.link_target == "usr/" + e.path) {
            aliases[e.path] = e.link_target;
        }
    }
    auto canonical = [&](const std::string& p) {
        size_t slash = p.find('/');
        std::string top = p.substr(0, slash);
        auto it = aliases.find(top);
        if (it == aliases.end()) {
            return p;
        }
        return it->second + (slash == std::string::npos ? "" : p.substr(slash));
    };

    std::map<std::string, std::string> package_group;
    std::unordered_map<std::string, Owner> owners;
    for (const auto& [pkg, paths] : ownership) {
        std::string g = group_of_package(rules, pkg);
        package_group[pkg] = g;
        for (const auto& raw : paths) {
            if (raw.empty()) {
                continue;
            }
            Owner& o = owners[canonical(raw)];
            if (o.first_package.empty()) {
                o.first_package = pkg;
            }
            o.groups.insert(g);
        }
    }

    std::vector<std::string> order = {"system"};
    for (const auto& r : rules) {
        order.push_back(r.name);
    }
    order.push_back("rest");
    std::map<std::string, std::vector<LayerEntry>> by_group;
    std::map<std::string, std::set<std::string>> paths_in;
    std::unordered_map<std::string, const LayerEntry*> by_path;
    for (const auto& e : entries) {
        by_path[e.path] = &e;
    }

    auto group_for_file = [&](const std::string& path) -> std::string {
        if (auto it = owners.find(path); it != owners.end()) {
            return package_group.at(it->second.first_package);
        }
        constexpr std::string_view info = "var/lib/dpkg/info/";
        if (path.starts_with(info)) {
            std::string name = path.substr(info.size());
            if (auto dot = name.rfind('.'); dot != std::string::npos) {
                name = name.substr(0, dot);
            }
            if (auto colon = name.find(':'); colon != std::string::npos) {
                name = name.substr(0, colon);
            }
            if (auto it = package_group.find(name); it != package_group.end()) {
                return it->second;
            }
            return "rest";
        }
        for (std::string_view a = parent_of(path); !a.empty(); a = parent_of(a)) {
            if (auto it = owners.find(std::string(a)); it != owners.end()) {
                return it->second.groups.size() == 1 ? *it->second.groups.begin() : "rest";
            }
        }
        return "rest";
    };

    std::map<std::string, std::set<std::string>> dirs_needed;  // group -> ancestor dirs
    for (const auto& e : entries) {
        if (e.type == EntryType::directory) {
            continue;
        }
        std::string g = group_for_file(e.path);
        paths_in[g].insert(e.path);
        for (std::string_view a = parent_of(e.path); !a.empty(); a = parent_of(a)) {
            if (!dirs_needed[g].insert(std::string(a)).second) {
                break;
            }
        }
    }
    // Empty directories (no file below them anywhere) go with their owner.
    std::set<std::string> any_needed;
    for (const auto& [g, ds] : dirs_needed) {
        any_needed.insert(ds.begin(), ds.end());
    }
    for (const auto& e : entries) {
        if (e.type != EntryType::directory || any_needed.contains(e.path)) {
            continue;
        }
        std::string g = "rest";
        if (auto it = owners.find(e.path); it != owners.end()) {
            g = package_group.at(it->second.first_package);
        }
        for (std::string_view a = e.path; !a.empty(); a = parent_of(a)) {
            dirs_needed[g].insert(std::string(a));
        }
    }

    for (const auto& e : entries) {
        if (e.type == EntryType::directory) {
            for (auto& [g, ds] : dirs_needed) {
                if (ds.contains(e.path)) {
                    by_group[g].push_back(e);
                }
            }
            continue;
        }
        std::string g = group_for_file(e.path);
        LayerEntry copy = e;
        if (copy.type == EntryType::hardlink && !paths_in[g].contains(copy.link_target)) {
            const LayerEntry* target = by_path.at(copy.link_target);
            LayerEntry file = *target;
            file.path = copy.path;
            copy = std::move(file);
        }
        by_group[g].push_back(std::move(copy));
    }

    std::vector<DebianLayer> out;
    for (const auto& name : order) {
        auto it = by_group.find(name);
        if (it == by_group.end() || it->second.empty()) {
            continue;
        }
        out.push_back({name, std::move(it->second)});
    }
    return out;
}

}  // namespace envpack
