#include "resolver/lockfile.h"

#include <algorithm>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/yaml.h"

namespace envpack {
namespace {

std::string yaml_quote(std::string_view s) {
    return yaml::quote(s);
}

class LockReader {
  public:
    LockReader(std::string_view text, const std::filesystem::path& file)
        : m_text(text), m_file(file) {}

    [[noreturn]] void fail(const YAML::Mark& mark, std::string_view message) const {
        int line = mark.is_null() ? 0 : mark.line + 1;
        int column = mark.is_null() ? 0 : mark.column + 1;
        throw bad_input(format_parse_error(m_file.string(), line, column, message,
                                           yaml::text_line(m_text, line)),
                        "regenerate the lock with `envpack lock`");
    }

    std::string str(const YAML::Node& map, const char* key, bool required = true) const {
        YAML::Node n = map[key];
        if (!n) {
            if (required) {
                fail(map.Mark(), fmt::format("missing `{}`", key));
            }
            return {};
        }
        if (!n.IsScalar()) {
            fail(n.Mark(), fmt::format("`{}` must be a string", key));
        }
        return n.Scalar();
    }

    std::vector<std::string> str_list(const YAML::Node& n, const char* what) const {
        std::vector<std::string> out;
        if (!n || n.IsNull()) {
            return out;
        }
        if (!n.IsSequence()) {
            fail(n.Mark(), fmt::format("`{}` must be a list", what));
        }
        for (const auto& item : n) {
            if (!item.IsScalar()) {
                fail(item.Mark(), fmt::format("an entry of `{}` must be a string", what));
            }
            out.push_back(item.Scalar());
        }
        return out;
    }

    LockFile run() {
        YAML::Node root;
        try {
            root = YAML::Load(std::string(m_text));
        } catch (const YAML::ParserException& e) {
            fail(e.mark, fmt::format("malformed YAML: {}", e.msg));
        }
        if (!root.IsMap()) {
            fail(root.Mark(),
                 "a lock file must be a mapping with `version`, `metadata`, `package`");
        }
        LockFile lock;
        lock.version = root["version"] && root["version"].IsScalar()
                           ? std::atoi(root["version"].Scalar().c_str())
                           : 0;
        if (lock.version != 1) {
            fail(root["version"] ? root["version"].Mark() : root.Mark(),
                 "unsupported lock file version (envpack reads conda-lock version 1)");
        }
        YAML::Node meta = root["metadata"];
        if (!meta || !meta.IsMap()) {
            fail(root.Mark(), "missing `metadata` mapping");
        }
        if (YAML::Node hashes = meta["content_hash"]) {
            if (!hashes.IsMap()) {
                fail(hashes.Mark(), "`content_hash` must map platforms to hashes");
            }
            for (const auto& kv : hashes) {
                lock.content_hash[kv.first.Scalar()] = kv.second.Scalar();
            }
        }
        if (YAML::Node channels = meta["channels"]) {
            if (!channels.IsSequence()) {
                fail(channels.Mark(), "`channels` must be a list");
            }
            for (const auto& c : channels) {
                lock.channels.push_back(c.IsMap() ? str(c, "url") : c.as<std::string>());
            }
        }
        lock.platforms = str_list(meta["platforms"], "platforms");
        lock.sources = str_list(meta["sources"], "sources");
        if (YAML::Node custom = meta["custom_metadata"]; custom && !custom.IsNull()) {
            if (!custom.IsMap()) {
                fail(custom.Mark(), "`custom_metadata` must map strings to strings");
            }
            for (const auto& kv : custom) {
                if (!kv.second.IsScalar()) {
                    fail(kv.second.Mark(), "a `custom_metadata` value must be a string");
                }
                lock.custom_metadata[kv.first.Scalar()] = kv.second.Scalar();
            }
        }
        YAML::Node packages = root["package"];
        if (packages && !packages.IsNull()) {
            if (!packages.IsSequence()) {
                fail(packages.Mark(), "`package` must be a list");
            }
            for (const auto& p : packages) {
                if (!p.IsMap()) {
                    fail(p.Mark(), "a package entry must be a mapping");
                }
                lock.packages.push_back(read_package(p));
            }
        }
        return lock;
    }

  private:
    LockedPackage read_package(const YAML::Node& p) const {
        LockedPackage out;
        out.name = str(p, "name");
        out.version = str(p, "version");
        out.manager = str(p, "manager");
        out.platform = str(p, "platform");
        out.url = str(p, "url");
        out.category = str(p, "category", false);
        if (out.category.empty()) {
            out.category = "main";
        }
        if (YAML::Node opt = p["optional"]) {
            out.optional = opt.IsScalar() && opt.Scalar() == "true";
        }
        if (YAML::Node deps = p["dependencies"]; deps && !deps.IsNull()) {
            if (!deps.IsMap()) {
                fail(deps.Mark(), "`dependencies` must map names to specs");
            }
            for (const auto& kv : deps) {
                out.dependencies.emplace_back(kv.first.Scalar(),
                                              kv.second.IsScalar() ? kv.second.Scalar() : "*");
            }
        }
        YAML::Node hash = p["hash"];
        if (!hash || !hash.IsMap()) {
            fail(p.Mark(), fmt::format("package `{}` has no `hash` mapping", out.name));
        }
        out.md5 = str(hash, "md5", false);
        out.sha256 = str(hash, "sha256", false);
        if (out.md5.empty() && out.sha256.empty()) {
            fail(hash.Mark(), fmt::format("package `{}` has neither md5 nor sha256", out.name));
        }
        return out;
    }

    std::string_view m_text;
    std::filesystem::path m_file;
};

}  // namespace

LockedPackage LockedPackage::from_record(const PackageRecord& record, std::string_view platform) {
    LockedPackage p;
    p.name = record.name;
    p.version = record.version;
    p.platform = std::string(platform);
    p.url = record.url;
    p.md5 = record.md5;
    p.sha256 = record.sha256;
    for (const auto& dep : record.depends) {
        std::string_view d = dep;
        size_t cut = d.find_first_of(" [");
        std::string name(d.substr(0, cut));
        std::string spec;
        if (cut != std::string_view::npos) {
            spec = std::string(d.substr(d[cut] == ' ' ? cut + 1 : cut));
        }
        while (!spec.empty() && spec.front() == ' ') {
            spec.erase(spec.begin());
        }
        if (spec.empty()) {
            spec = "*";
        }
        auto same = std::find_if(p.dependencies.begin(), p.dependencies.end(),
                                 [&](const auto& kv) { return kv.first == name; });
        if (same != p.dependencies.end()) {
            same->second = same->second == "*" ? spec : same->second + "," + spec;
        } else {
            p.dependencies.emplace_back(std::move(name), std::move(spec));
        }
    }
    return p;
}

std::string LockedPackage::file_name() const {
    size_t slash = url.rfind('/');
    std::string fn = slash == std::string::npos ? url : url.substr(slash + 1);
    size_t hash = fn.find('#');
    return hash == std::string::npos ? fn : fn.substr(0, hash);
}

std::string LockedPackage::build() const {
    std::string fn = file_name();
    for (std::string_view ext : {".conda", ".tar.bz2"}) {
        if (fn.ends_with(ext)) {
            fn.resize(fn.size() - ext.size());
        }
    }
    std::string prefix = name + "-" + version + "-";
    return fn.starts_with(prefix) ? fn.substr(prefix.size()) : std::string();
}

LockFile LockFile::parse(std::string_view text, const std::filesystem::path& file_name) {
    return LockReader(text, file_name).run();
}

LockFile LockFile::load(const std::filesystem::path& path) {
    std::string text;
    try {
        text = read_file(path);
    } catch (const Error& e) {
        throw Error(fmt::format("read lock file `{}`: {}", path.string(), e.what()),
                    "create it with `envpack lock -f ENV.yml`", ExitCode::bad_input);
    }
    return parse(text, path);
}

std::string LockFile::to_string() const {
    std::string out = fmt::format("version: {}\nmetadata:\n  content_hash:\n", version);
    for (const auto& [platform, hash] : content_hash) {
        out += fmt::format("    {}: {}\n", yaml_quote(platform), yaml_quote(hash));
    }
    out += "  channels:\n";
    for (const auto& c : channels) {
        out += fmt::format("  - url: {}\n    used_env_vars: []\n", yaml_quote(c));
    }
    out += "  platforms:\n";
    for (const auto& p : platforms) {
        out += fmt::format("  - {}\n", yaml_quote(p));
    }
    out += "  sources:\n";
    for (const auto& s : sources) {
        out += fmt::format("  - {}\n", yaml_quote(s));
    }
    if (!custom_metadata.empty()) {
        out += "  custom_metadata:\n";
        for (const auto& [key, value] : custom_metadata) {
            out += fmt::format("    {}: {}\n", yaml_quote(key), yaml_quote(value));
        }
    }
    out += packages.empty() ? "package: []\n" : "package:\n";
    for (const auto& p : packages) {
        out += fmt::format("- name: {}\n  version: {}\n  manager: {}\n  platform: {}\n",
                           yaml_quote(p.name), yaml_quote(p.version), yaml_quote(p.manager),
                           yaml_quote(p.platform));
        if (p.dependencies.empty()) {
            out += "  dependencies: {}\n";
        } else {
            out += "  dependencies:\n";
            for (const auto& [name, spec] : p.dependencies) {
                out += fmt::format("    {}: {}\n", yaml_quote(name), yaml_quote(spec));
            }
        }
        out += fmt::format("  url: {}\n  hash:\n", yaml_quote(p.url));
        if (!p.md5.empty()) {
            out += fmt::format("    md5: {}\n", yaml_quote(p.md5));
        }
        if (!p.sha256.empty()) {
            out += fmt::format("    sha256: {}\n", yaml_quote(p.sha256));
        }
        out += fmt::format("  category: {}\n  optional: {}\n", yaml_quote(p.category),
                           p.optional ? "true" : "false");
    }
    return out;
}

std::string LockFile::to_explicit(std::string_view platform) const {
    if (std::find(platforms.begin(), platforms.end(), platform) == platforms.end()) {
        throw bad_input(fmt::format("the lock has no platform `{}`", platform),
                        "lock that platform with `envpack lock -p PLATFORM`");
    }
    std::string out = fmt::format(
        "# Generated by envpack from a conda-lock v1 file.\n"
        "# This file may be used to create an environment using:\n"
        "# $ conda create --name <env> --file <this file>\n"
        "# platform: {}\n@EXPLICIT\n",
        platform);
    std::string pip;
    for (const auto* p : packages_for(platform)) {
        if (p->manager == "pip") {
            // conda-lock's form: a comment conda skips, that `pip install` can be fed.
            pip += fmt::format("# pip {} @ {}#sha256={}\n", p->name, p->url, p->sha256);
            continue;
        }
        if (p->manager != "conda") {
            continue;
        }
        out += p->url;
        out += "#" + (p->sha256.empty() ? p->md5 : p->sha256);
        out += '\n';
    }
    return out + pip;
}

std::vector<const LockedPackage*> LockFile::packages_for(std::string_view platform) const {
    std::vector<const LockedPackage*> out;
    for (const auto& p : packages) {
        if (p.platform == platform) {
            out.push_back(&p);
        }
    }
    return out;
}

LockState lock_state(const LockFile& lock, const EnvSpec& spec, std::string_view platform) {
    auto it = lock.content_hash.find(std::string(platform));
    if (it == lock.content_hash.end()) {
        return LockState::missing_platform;
    }
    return it->second == env_content_hash(spec, platform) ? LockState::fresh : LockState::stale;
}

}  // namespace envpack
