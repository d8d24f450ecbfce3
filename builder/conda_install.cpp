#include "builder/conda_install.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/conda_package.h"
#include "core/archive.h"
#include "core/error.h"
#include "core/fs.h"

namespace envpack {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view k_default_placeholder = "/opt/anaconda1anaconda2anaconda3";

enum class FileMode { text, binary };

struct PathInfo {
    std::string path;               // inside the package
    std::string type = "hardlink";  // hardlink | softlink | directory
    std::string placeholder;        // empty: none
    FileMode mode = FileMode::text;
    json record;  // the paths.json entry (for conda-meta)
};

json read_json(const fs::path& path, std::string_view package) {
    try {
        return json::parse(read_file(path));
    } catch (const json::exception& e) {
        throw bad_input(fmt::format("package `{}`: `{}` is not valid JSON: {}", package,
                                    path.filename().string(), e.what()));
    }
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        size_t j = text.find('\n', i);
        if (j == std::string::npos) {
            j = text.size();
        }
        std::string line = text.substr(i, j - i);
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (!line.empty()) {
            out.push_back(line);
        }
        i = j + 1;
    }
    return out;
}

// Splits a has_prefix line: `placeholder mode path` (fields may be double-quoted) or `path`.
std::vector<std::string> split_fields(const std::string& line) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && line[i] == ' ') {
            ++i;
        }
        if (i >= line.size()) {
            break;
        }
        std::string field;
        if (line[i] == '"') {
            size_t j = line.find('"', i + 1);
            if (j == std::string::npos) {
                j = line.size();
            }
            field = line.substr(i + 1, j - i - 1);
            i = j + 1;
        } else {
            size_t j = line.find(' ', i);
            if (j == std::string::npos) {
                j = line.size();
            }
            field = line.substr(i, j - i);
            i = j;
        }
        out.push_back(field);
    }
    return out;
}

std::vector<PathInfo> read_paths(const fs::path& dir, const std::string& package) {
    std::vector<PathInfo> out;
    if (fs::exists(dir / "info" / "paths.json")) {
        json j = read_json(dir / "info" / "paths.json", package);
        for (const auto& p : j.value("paths", json::array())) {
            PathInfo info;
            info.path = p.value("_path", "");
            info.type = p.value("path_type", "hardlink");
            info.placeholder = p.value("prefix_placeholder", "");
            info.mode =
                p.value("file_mode", "text") == "binary" ? FileMode::binary : FileMode::text;
            info.record = p;
            out.push_back(std::move(info));
        }
        return out;
    }
    // Old packages: info/files lists the payload, info/has_prefix the files with placeholders.
    std::map<std::string, std::pair<std::string, FileMode>> prefixed;
    if (fs::exists(dir / "info" / "has_prefix")) {
        for (const auto& line : split_lines(read_file(dir / "info" / "has_prefix"))) {
            auto f = split_fields(line);
            if (f.size() == 1) {
                prefixed[f[0]] = {std::string(k_default_placeholder), FileMode::text};
            } else if (f.size() == 3) {
                prefixed[f[2]] = {f[0], f[1] == "binary" ? FileMode::binary : FileMode::text};
            } else {
                throw bad_input(fmt::format("package `{}`: info/has_prefix: malformed line `{}`",
                                            package, line));
            }
        }
    }
    if (!fs::exists(dir / "info" / "files")) {
        throw bad_input(
            fmt::format("package `{}`: neither info/paths.json nor info/files", package));
    }
    for (const auto& line : split_lines(read_file(dir / "info" / "files"))) {
        PathInfo info;
        info.path = line;
        struct stat st {};
        if (::lstat((dir / line).c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
            info.type = "softlink";
        } else if (S_ISDIR(st.st_mode)) {
            info.type = "directory";
        }
        if (auto it = prefixed.find(line); it != prefixed.end()) {
            info.placeholder = it->second.first;
            info.mode = it->second.second;
        }
        info.record = json{{"_path", info.path}, {"path_type", info.type}};
        if (!info.placeholder.empty()) {
            info.record["prefix_placeholder"] = info.placeholder;
            info.record["file_mode"] = info.mode == FileMode::binary ? "binary" : "text";
        }
        out.push_back(std::move(info));
    }
    return out;
}

std::string python_site_packages(const std::string& version) {
    return "lib/python" + version + "/site-packages";
}

}  // namespace

size_t replace_text_prefix(std::string& data, std::string_view placeholder,
                           std::string_view prefix) {
    if (placeholder.empty()) {
        return 0;
    }
    size_t count = 0;
    std::string out;
    size_t i = 0;
    for (size_t j; (j = data.find(placeholder, i)) != std::string::npos;
         i = j + placeholder.size()) {
        out.append(data, i, j - i);
        out.append(prefix);
        ++count;
    }
    if (count > 0) {
        out.append(data, i);
        data = std::move(out);
    }
    return count;
}

size_t replace_binary_prefix(std::string& data, std::string_view placeholder,
                             std::string_view prefix) {
    if (placeholder.empty()) {
        return 0;
    }
    size_t count = 0;
    size_t pos = 0;
    while ((pos = data.find(placeholder, pos)) != std::string::npos) {
        if (prefix.size() > placeholder.size()) {
            throw bad_input(fmt::format("the prefix `{}` ({} bytes) is longer than the binary "
                                        "placeholder `{}` ({} bytes)",
                                        prefix, prefix.size(), placeholder, placeholder.size()),
                            "choose a shorter --prefix");
        }
        size_t end = data.find('\0', pos);
        if (end == std::string::npos) {
            end = data.size();
        }
        std::string piece = data.substr(pos, end - pos);
        size_t n = replace_text_prefix(piece, placeholder, prefix);
        count += n;
        piece.resize(end - pos, '\0');
        data.replace(pos, end - pos, piece);
        pos = end;
    }
    return count;
}

std::string entry_point_script(std::string_view python, std::string_view module,
                               std::string_view function) {
    std::string import_name(function);
    if (size_t dot = import_name.find('.'); dot != std::string::npos) {
        import_name.resize(dot);
    }
    return fmt::format(
        "#!{}\n"
        "# -*- coding: utf-8 -*-\n"
        "import re\n"
        "import sys\n\n"
        "from {} import {}\n\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])\n"
        "    sys.exit({}())\n",
        python, module, import_name, function);
}

InstalledPackage plan_package_install(const fs::path& dir, const PackageOrigin& origin,
                                      const InstallOptions& options) {
    const std::string label = dir.filename().string();
    json index = read_json(dir / "info" / "index.json", label);
    InstalledPackage out;
    out.name = index.value("name", "");
    out.version = index.value("version", "");
    out.build = index.value("build", "");
    out.build_number = index.value("build_number", std::int64_t{0});
    out.license = index.value("license", "");
    out.subdir = index.value("subdir", "");
    out.channel = origin.channel;
    size_t slash = origin.url.find_last_of('/');
    out.file_name = slash == std::string::npos ? origin.url : origin.url.substr(slash + 1);
    if (out.name.empty() || out.version.empty()) {
        throw bad_input(fmt::format("package `{}`: info/index.json has no name or version", label));
    }
    json link;
    if (fs::exists(dir / "info" / "link.json")) {
        link = read_json(dir / "info" / "link.json", label);
    }
    if (index.contains("noarch") && index["noarch"].is_string()) {
        out.noarch = index["noarch"].get<std::string>();
    } else if (link.contains("noarch") && link["noarch"].is_object()) {
        out.noarch = link["noarch"].value("type", "");
    }
    const bool noarch_python = out.noarch == "python";
    if (noarch_python && options.python_version.empty()) {
        throw bad_input(
            fmt::format("package `{}` is noarch: python but the environment has no python",
                        out.dist()),
            "add python to the environment's dependencies");
    }
    const std::string prefix_rel = options.prefix.substr(1);  // "opt/conda"
    auto target_of = [&](const std::string& path) {
        if (noarch_python) {
            if (path.starts_with("site-packages/")) {
                return python_site_packages(options.python_version) + path.substr(13);
            }
            if (path.starts_with("python-scripts/")) {
                return "bin/" + path.substr(15);
            }
        }
        return path;
    };

    json paths_data = json::array();
    std::vector<std::string> repaired_links;
    const std::vector<PathInfo> all_paths = read_paths(dir, out.dist());
    for (const auto& info : all_paths) {
        auto rel = safe_relative_path(info.path);
        if (!rel || rel->empty()) {
            throw bad_input(fmt::format("package `{}`: path `{}` is absolute or leaves the prefix",
                                        out.dist(), info.path),
                            "the package is unsafe; nothing from it was installed");
        }
        const fs::path src = dir / *rel;
        const std::string target = target_of(*rel);
        LayerEntry e;
        e.path = prefix_rel + "/" + target;
        struct stat st {};
        if (::lstat(src.c_str(), &st) != 0) {
            throw bad_input(fmt::format("package `{}`: `{}` is listed but not in the archive",
                                        out.dist(), info.path));
        }
        if (info.type == "directory" || S_ISDIR(st.st_mode)) {
            e.type = EntryType::directory;
            e.mode = st.st_mode & 07777;
        } else if (info.type == "softlink" && !S_ISLNK(st.st_mode)) {
            // A link paths.json lists but the archive holds as an empty file or a link without a
            // target: point it at the file of this package with the same sha256, as it was built.
            std::string want = info.record.value("sha256", "");
            std::string found;
            for (const auto& other : all_paths) {
                if (other.type == "hardlink" && !want.empty() &&
                    other.record.value("sha256", "") == want) {
                    found = other.path;
                    break;
                }
            }
            if (found.empty()) {
                throw bad_input(
                    fmt::format(
                        "package `{}`: `{}` should be a symbolic link but the archive holds no "
                        "link target, and no file of the package matches its sha256",
                        out.dist(), info.path),
                    "the package is damaged; rebuild or re-download it");
            }
            e.type = EntryType::symlink;
            e.link_target = fs::path(target_of(found))
                                .lexically_relative(fs::path(target).parent_path())
                                .string();
            e.mode = 0777;
            repaired_links.push_back(info.path);
        } else if (info.type == "softlink" || S_ISLNK(st.st_mode)) {
            std::string buf(4096, '\0');
            ssize_t n = ::readlink(src.c_str(), buf.data(), buf.size());
            if (n < 0) {
                throw_errno("readlink", src.string(), errno);
            }
            buf.resize(static_cast<size_t>(n));
            if (!resolve_link_inside(target, buf)) {
                throw bad_input(
                    fmt::format("package `{}`: symbolic link `{}` -> `{}` leads outside the prefix",
                                out.dist(), info.path, buf),
                    "the package is unsafe; nothing from it was installed");
            }
            e.type = EntryType::symlink;
            e.link_target = buf;
            e.mode = 0777;
        } else {
            e.type = EntryType::file;
            e.mode = st.st_mode & 07777;
            if (!info.placeholder.empty()) {
                std::string data = read_file(src);
                if (info.mode == FileMode::binary) {
                    try {
                        replace_binary_prefix(data, info.placeholder, options.prefix);
                    } catch (const Error& err) {
                        throw err.with_context(
                            fmt::format("package `{}`: file `{}`", out.dist(), info.path));
                    }
                } else {
                    replace_text_prefix(data, info.placeholder, options.prefix);
                }
                e.size = data.size();
                e.data = std::move(data);
            } else {
                e.source = src;
                e.size = static_cast<std::uint64_t>(st.st_size);
            }
            out.installed_size += e.size;
        }
        out.files.push_back(target);
        json record = info.record;
        record["_path"] = target;
        paths_data.push_back(record);
        out.entries.push_back(std::move(e));
    }
    if (noarch_python && link.contains("noarch")) {
        for (const auto& ep : link["noarch"].value("entry_points", json::array())) {
            std::string text = ep.get<std::string>();
            size_t eq = text.find('=');
            size_t colon = text.find(':', eq == std::string::npos ? 0 : eq);
            if (eq == std::string::npos || colon == std::string::npos) {
                throw bad_input(
                    fmt::format("package `{}`: entry point `{}` is not `name = module:function`",
                                out.dist(), text));
            }
            auto trim = [](std::string s) {
                s.erase(0, s.find_first_not_of(' '));
                s.erase(s.find_last_not_of(' ') + 1);
                return s;
            };
            std::string cmd = trim(text.substr(0, eq));
            std::string module = trim(text.substr(eq + 1, colon - eq - 1));
            std::string function = trim(text.substr(colon + 1));
            if (!safe_relative_path(cmd) || cmd.find('/') != std::string::npos || cmd.empty()) {
                throw bad_input(
                    fmt::format("package `{}`: entry point name `{}` is not a plain file name",
                                out.dist(), cmd));
            }
            LayerEntry e;
            e.path = prefix_rel + "/bin/" + cmd;
            e.type = EntryType::file;
            e.mode = 0755;
            e.data = entry_point_script(options.prefix + "/bin/python", module, function);
            e.size = e.data.size();
            out.installed_size += e.size;
            out.files.push_back("bin/" + cmd);
            paths_data.push_back(
                json{{"_path", "bin/" + cmd}, {"path_type", "unix_python_entry_point"}});
            out.entries.push_back(std::move(e));
        }
    }
    std::sort(out.files.begin(), out.files.end());

    json meta = index;
    meta["url"] = origin.url;
    meta["channel"] = origin.channel;
    meta["fn"] = out.file_name;
    if (!origin.md5.empty()) {
        meta["md5"] = origin.md5;
    }
    if (!origin.sha256.empty()) {
        meta["sha256"] = origin.sha256;
    }
    meta["files"] = out.files;
    meta["paths_data"] = json{{"paths", paths_data}, {"paths_version", 1}};
    meta["link"] = json{{"source", ""}, {"type", 1}};
    meta["requested_spec"] = "";
    out.meta_file = "conda-meta/" + out.dist() + ".json";
    out.meta_json = meta.dump(1) + "\n";
    return out;
}

std::vector<std::string> resolve_clobbers(std::vector<InstalledPackage>& packages) {
    std::map<std::string, size_t> owner;  // layer path -> package index (files and links only)
    std::vector<std::string> reports;
    std::vector<std::set<std::string>> drop(packages.size());
    for (size_t i = 0; i < packages.size(); ++i) {
        for (const auto& e : packages[i].entries) {
            if (e.type == EntryType::directory) {
                continue;
            }
            auto [it, inserted] = owner.emplace(e.path, i);
            if (!inserted) {
                reports.push_back(fmt::format("`{}`: {} clobbers {}", e.path, packages[i].dist(),
                                              packages[it->second].dist()));
                drop[it->second].insert(e.path);
                it->second = i;
            }
        }
    }
    for (size_t i = 0; i < packages.size(); ++i) {
        if (drop[i].empty()) {
            continue;
        }
        auto& entries = packages[i].entries;
        entries.erase(std::remove_if(entries.begin(), entries.end(),
                                     [&](const LayerEntry& e) {
                                         return e.type != EntryType::directory &&
                                                drop[i].contains(e.path);
                                     }),
                      entries.end());
    }
    return reports;
}

}  // namespace envpack
