#include "builder/wheel_install.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "builder/detail/prefix_writer.h"
#include "builder/wheel_files.h"
#include "core/compress.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/zip.h"
#include "resolver/pep508.h"
#include "resolver/pip_metadata.h"
#include "resolver/wheel_tags.h"

namespace envpack::wheel_install {
namespace fs = std::filesystem;
namespace {

enum class Kind : unsigned char { root, data, script };

struct PlannedFile {
    const ZipMember* member;
    std::string dest;  // relative to the prefix
    Kind kind;
    bool executable;
};

// `rel` with `.` and empty parts dropped and `..` applied; nullopt when it is absolute or climbs
// above its start.
std::optional<std::string> normalize_inside(std::string_view rel) {
    if (rel.empty() || rel.front() == '/') {
        return std::nullopt;
    }
    std::vector<std::string_view> parts;
    std::size_t pos = 0;
    while (pos <= rel.size()) {
        auto end = rel.find('/', pos);
        if (end == std::string_view::npos) {
            end = rel.size();
        }
        std::string_view part = rel.substr(pos, end - pos);
        pos = end + 1;
        if (part.empty() || part == ".") {
            continue;
        }
        if (part == "..") {
            if (parts.empty()) {
                return std::nullopt;
            }
            parts.pop_back();
            continue;
        }
        parts.push_back(part);
    }
    if (parts.empty()) {
        return std::nullopt;
    }
    return fmt::format("{}", fmt::join(parts, "/"));
}

std::string strip_padding(std::string_view hash) {
    while (!hash.empty() && hash.back() == '=') {
        hash.remove_suffix(1);
    }
    return std::string(hash);
}

bool is_record_file(std::string_view name, std::string_view info_dir) {
    return name == fmt::format("{}/RECORD", info_dir) ||
           name == fmt::format("{}/RECORD.jws", info_dir) ||
           name == fmt::format("{}/RECORD.p7s", info_dir);
}

struct Wheel {
    std::shared_ptr<const ZipReader> zip;
    std::string label;  // the wheel's file name, for messages
    std::string info_dir;
    pip_metadata::CoreMetadata metadata;
    std::map<std::string, wheel_files::RecordRow> record;  // path -> row
    std::vector<wheel_files::RecordRow> record_rows;       // in file order
    std::vector<wheel_files::EntryPoint> console;
    std::vector<wheel_files::EntryPoint> gui;
};

[[noreturn]] void refuse(const std::string& label, std::string_view what) {
    throw bad_input(fmt::format("install wheel `{}`: {}", label, what),
                    "the wheel is malformed; nothing was installed");
}

std::string read_member(const Wheel& w, const std::string& path, bool required) {
    const ZipMember* m = w.zip->find(path);
    if (m == nullptr) {
        if (required) {
            refuse(w.label, fmt::format("`{}` is missing", path));
        }
        return {};
    }
    return w.zip->read(*m);
}

Wheel open_wheel(const fs::path& path, const std::string& project, const Options& options) {
    Wheel w{std::make_shared<const ZipReader>(ZipReader::open(path)),
            path.filename().string(),
            {},
            {},
            {},
            {},
            {},
            {}};
    std::string canonical = project;
    if (canonical.empty()) {
        if (auto name = wheel::WheelFilename::try_parse(w.label)) {
            canonical = name->name;
        }
    }
    canonical = pep508::normalize_name(canonical);
    std::set<std::string> info_dirs;
    for (const auto& m : w.zip->members()) {
        std::string top = m.name.substr(0, m.name.find('/'));
        if (top.ends_with(".dist-info") && top.size() < m.name.size()) {
            info_dirs.insert(top);
        }
    }
    if (info_dirs.empty()) {
        refuse(w.label, "no `.dist-info` directory");
    }
    if (info_dirs.size() > 1) {
        refuse(w.label,
               fmt::format("several `.dist-info` directories: {}", fmt::join(info_dirs, ", ")));
    }
    w.info_dir = *info_dirs.begin();
    if (!canonical.empty() && !pep508::normalize_name(w.info_dir).starts_with(canonical)) {
        refuse(w.label, fmt::format("`.dist-info` directory `{}` is not for project `{}`",
                                    w.info_dir, canonical));
    }
    const std::string wheel_text = read_member(w, w.info_dir + "/WHEEL", true);
    (void)pip_metadata::WheelInfo::parse(wheel_text, w.label + ":" + w.info_dir + "/WHEEL");
    w.metadata = pip_metadata::CoreMetadata::parse(read_member(w, w.info_dir + "/METADATA", true),
                                                   w.label + ":" + w.info_dir + "/METADATA");
    const std::string record_name = w.info_dir + "/RECORD";
    w.record_rows =
        wheel_files::parse_record(read_member(w, record_name, true), w.label + ":" + record_name);
    for (const auto& row : w.record_rows) {
        w.record[row.path] = row;
    }
    auto entry_points =
        wheel_files::EntryPoints::parse(read_member(w, w.info_dir + "/entry_points.txt", false));
    const std::string source = w.label + ":" + w.info_dir + "/entry_points.txt";
    w.console = wheel_files::console_scripts(entry_points, options.python_major,
                                             options.python_minor, source);
    w.gui = wheel_files::gui_scripts(entry_points, source);
    return w;
}

std::vector<PlannedFile> plan_files(const Wheel& w, const Options& options) {
    const std::string lib =
        fmt::format("lib/python{}.{}/site-packages", options.python_major, options.python_minor);
    const std::map<std::string, std::string> scheme = {
        {"purelib", lib},
        {"platlib", lib},
        {"scripts", "bin"},
        {"headers", fmt::format("include/python{}.{}/{}", options.python_major,
                                options.python_minor, w.metadata.name)},
        {"data", ""},
    };
    std::set<std::string> entry_names;
    for (const auto& e : w.console) {
        entry_names.insert(e.name);
    }
    for (const auto& e : w.gui) {
        entry_names.insert(e.name);
    }
    std::vector<PlannedFile> out;
    std::set<std::string> seen;
    for (const auto& m : w.zip->members()) {
        if (m.is_directory()) {
            continue;
        }
        const std::string& name = m.name;
        std::string top = name.substr(0, name.find('/'));
        PlannedFile f{&m, {}, Kind::root, false};
        const std::uint32_t mode = m.unix_mode();
        f.executable = mode != 0 && S_ISREG(mode) && (mode & 0111) != 0;
        if (top.ends_with(".data") && top.size() < name.size()) {
            std::string_view rest = std::string_view(name).substr(top.size() + 1);
            auto slash = rest.find('/');
            if (slash == std::string_view::npos) {
                refuse(w.label,
                       fmt::format("`{}`: `.data` members are named `<scheme key>/<path>`", name));
            }
            std::string key(rest.substr(0, slash));
            auto dir = scheme.find(key);
            if (dir == scheme.end()) {
                refuse(w.label,
                       fmt::format("`{}`: unknown scheme key `{}` (headers, data, purelib, "
                                   "platlib, scripts)",
                                   name, key));
            }
            auto sub = normalize_inside(rest.substr(slash + 1));
            if (!sub) {
                refuse(w.label, fmt::format("`{}` would be installed outside `{}`", name, key));
            }
            if (key == "scripts") {
                if (sub->find('/') == std::string::npos && entry_names.contains(*sub)) {
                    continue;  // pip skips wrappers for its own entry-point scripts
                }
                f.kind = Kind::script;
            } else {
                f.kind = Kind::data;
            }
            f.dest = dir->second.empty() ? *sub : dir->second + "/" + *sub;
        } else {
            auto sub = normalize_inside(name);
            if (!sub) {
                refuse(w.label, fmt::format("`{}` would be installed outside site-packages", name));
            }
            f.dest = lib + "/" + *sub;
        }
        if (!seen.insert(f.dest).second) {
            refuse(w.label, fmt::format("two members install to `{}`", f.dest));
        }
        auto row = w.record.find(name);
        if (!is_record_file(name, w.info_dir)) {
            if (row == w.record.end()) {
                refuse(w.label, fmt::format("`{}` is not listed in RECORD", name));
            }
            if (!row->second.hash.starts_with("sha256=")) {
                refuse(w.label, fmt::format("RECORD has no sha256 hash for `{}`{}", name,
                                            row->second.hash.empty()
                                                ? ""
                                                : fmt::format(" (`{}`)", row->second.hash)));
            }
        }
        out.push_back(std::move(f));
    }
    return out;
}

// One installed file, with what RECORD says of it.
struct Placed {
    std::string dest;
    std::string hash;
    std::string size;
    bool changed = false;
};

// Throws when a member's bytes (their sha256 and size) do not match its RECORD row.
void check_record(const std::string& label, const std::string& member,
                  const wheel_files::RecordRow& row, const Digest& digest, std::uint64_t size) {
    if (strip_padding(wheel_files::record_hash(digest)) != strip_padding(row.hash)) {
        refuse(label, fmt::format("`{}` does not match its RECORD hash (RECORD {}, file {})",
                                  member, row.hash, wheel_files::record_hash(digest)));
    }
    if (!row.size.empty() && row.size != std::to_string(size)) {
        refuse(label, fmt::format("`{}` is {} bytes, RECORD says {}", member, size, row.size));
    }
}

void check_record(const Wheel& w, const ZipMember& m, const Digest& digest, std::uint64_t size) {
    if (!is_record_file(m.name, w.info_dir)) {
        check_record(w.label, m.name, w.record.at(m.name), digest, size);
    }
}

// A file envpack writes itself (entry-point scripts, INSTALLER, REQUESTED, direct_url.json).
struct Generated {
    std::string dest;
    std::string content;
    mode_t mode;
};

// One file of the install: a wheel member copied as it is (checked against RECORD while it is
// read), or content made here (scripts with a rewritten shebang, entry points, INSTALLER, RECORD).
struct OutFile {
    std::string dest;  // relative to the prefix
    mode_t mode;
    const ZipMember* member = nullptr;
    std::string content;  // when !member
};

// Everything the install writes, decided before anything is written: every member but those
// copied as they are has been read and checked.
struct Prepared {
    Wheel wheel;
    std::vector<OutFile> files;
};

Prepared prepare(const fs::path& wheel_path, const Options& options, const std::string& project) {
    Prepared out{open_wheel(wheel_path, project, options), {}};
    const Wheel& w = out.wheel;
    std::vector<PlannedFile> plan = plan_files(w, options);
    const std::string lib =
        fmt::format("lib/python{}.{}/site-packages", options.python_major, options.python_minor);
    const std::string interpreter = options.shebang_interpreter();

    const std::string info = lib + "/" + w.info_dir;
    std::vector<Generated> generated;
    for (const auto* group : {&w.console, &w.gui}) {
        for (const auto& e : *group) {
            generated.push_back({"bin/" + e.name, wheel_files::script_text(e, interpreter), 0755});
        }
    }
    generated.push_back({info + "/INSTALLER", options.installer + "\n", 0644});
    if (!options.direct_url_json.empty()) {
        generated.push_back({info + "/direct_url.json", options.direct_url_json, 0644});
    }
    if (options.requested == Requested::yes) {
        generated.push_back({info + "/REQUESTED", "", 0644});
    }
    const std::string record_dest = info + "/RECORD";
    // Members whose place a generated file (or the rewritten RECORD) takes are checked, not
    // written (pip clobbers them).
    std::set<std::string> replaced{record_dest};
    for (const auto& g : generated) {
        replaced.insert(g.dest);
    }

    std::map<std::string, Placed> placed;  // member name -> installed file
    for (const auto& f : plan) {
        const ZipMember& m = *f.member;
        const mode_t mode = f.executable ? 0755 : 0644;
        Placed s{f.dest, {}, {}, false};
        const bool write = !replaced.contains(f.dest);
        if (f.kind == Kind::script || !write) {
            std::string content = w.zip->read(m, 1ull << 30);
            check_record(w, m, Digest::of(content), content.size());
            if (f.kind == Kind::script) {
                if (auto fixed = wheel_files::rewrite_python_shebang(content, interpreter)) {
                    content = std::move(*fixed);
                    s.changed = true;
                    s.hash = wheel_files::record_hash(Digest::of(content));
                    s.size = std::to_string(content.size());
                }
            }
            if (write) {
                out.files.push_back({f.dest, mode, nullptr, std::move(content)});
            }
        } else {
            out.files.push_back({f.dest, mode, &m, {}});
        }
        placed.emplace(m.name, std::move(s));
    }

    // RECORD rows for the wheel's own files, mapped to their installed paths.
    std::vector<wheel_files::RecordRow> rows;
    for (const auto& row : w.record_rows) {
        auto it = placed.find(row.path);
        if (it == placed.end()) {
            rows.push_back(row);  // listed but not in the archive: kept as pip keeps it
            continue;
        }
        const Placed& s = it->second;
        std::string path = fs::path(s.dest).lexically_relative(lib).string();
        rows.push_back({path, s.changed ? s.hash : row.hash, s.changed ? s.size : row.size});
    }
    for (auto& g : generated) {
        rows.push_back({fs::path(g.dest).lexically_relative(lib).string(),
                        wheel_files::record_hash(Digest::of(g.content)),
                        std::to_string(g.content.size())});
        out.files.push_back({g.dest, g.mode, nullptr, std::move(g.content)});
    }
    // A generated file may replace one the wheel listed: keep one row per path, the last.
    std::map<std::string, wheel_files::RecordRow> by_path;
    for (auto& r : rows) {
        by_path[r.path] = std::move(r);
    }
    rows.clear();
    for (auto& [path, r] : by_path) {
        rows.push_back(std::move(r));
    }
    const std::string record_rel = w.info_dir + "/RECORD";
    bool has_record_row = false;
    for (auto& r : rows) {
        if (r.path == record_rel) {
            r.hash.clear();
            r.size.clear();
            has_record_row = true;
        }
    }
    if (!has_record_row) {
        rows.push_back({record_rel, "", ""});
    }
    out.files.push_back({record_dest, 0644, nullptr, wheel_files::write_record(std::move(rows))});
    return out;
}

Installed installed_of(const Prepared& p) {
    Installed result;
    result.name = p.wheel.metadata.name;
    result.version = p.wheel.metadata.version.to_string();
    result.dist_info = p.wheel.info_dir;
    for (const auto& f : p.files) {
        result.files.push_back(f.dest);
    }
    std::sort(result.files.begin(), result.files.end());
    result.files.erase(std::unique(result.files.begin(), result.files.end()), result.files.end());
    return result;
}

}  // namespace

fs::path Options::site_packages() const {
    return prefix / "lib" / fmt::format("python{}.{}", python_major, python_minor) /
           "site-packages";
}

std::string Options::shebang_interpreter() const {
    return interpreter.empty() ? (prefix / "bin" / "python").string() : interpreter;
}

Installed install_wheel(const fs::path& wheel_path, const Options& options,
                        const std::string& project) {
    if (!options.prefix.is_absolute()) {
        throw internal_error(
            fmt::format("install wheel: prefix `{}` is not absolute", options.prefix.string()));
    }
    const Prepared p = prepare(wheel_path, options, project);
    detail::PrefixWriter prefix(options.prefix);
    for (const auto& f : p.files) {
        auto out = prefix.open(f.dest, f.mode);
        if (f.member == nullptr) {
            out->write(f.content);
            continue;
        }
        HashingSink hashing(out.get());
        p.wheel.zip->read(*f.member, hashing);
        check_record(p.wheel, *f.member, hashing.finish(), hashing.size());
    }
    prefix.commit();
    return installed_of(p);
}

LayerFiles layer_files(const fs::path& wheel, const Options& options, const std::string& project) {
    if (!options.prefix.is_absolute()) {
        throw internal_error(
            fmt::format("wheel layer files: prefix `{}` is not absolute", options.prefix.string()));
    }
    Prepared p = prepare(wheel, options, project);
    LayerFiles out;
    out.installed = installed_of(p);
    const std::string under = options.prefix.relative_path().string();
    for (auto& f : p.files) {
        LayerEntry e;
        e.path = under + "/" + f.dest;
        e.mode = f.mode;
        if (f.member == nullptr) {
            e.size = f.content.size();
            e.data = std::move(f.content);
        } else {
            e.size = f.member->size;
            e.zip = p.wheel.zip;
            e.zip_member = f.member;
            if (!is_record_file(f.member->name, p.wheel.info_dir)) {
                e.verify = [label = p.wheel.label, member = f.member->name,
                            row = p.wheel.record.at(f.member->name)](const Digest& digest,
                                                                     std::uint64_t size) {
                    check_record(label, member, row, digest, size);
                };
            }
        }
        out.entries.push_back(std::move(e));
    }
    return out;
}

}  // namespace envpack::wheel_install
