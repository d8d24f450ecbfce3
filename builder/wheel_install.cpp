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

// Writes a file with a fixed mode (no umask), exclusively.
class FileSink : public Sink {
  public:
    FileSink(const fs::path& path, mode_t mode) : m_path(path), m_fd(open_new(path, mode)) {
        // open() applied the umask; put back what it took (fixed modes whatever the umask).
        if ((mode & ~process_umask()) != mode && ::fchmod(m_fd.get(), mode) != 0) {
            throw_errno("chmod", path.string(), errno);
        }
    }
    void write(const void* data, size_t size) override {
        write_all(m_fd.get(), data, size, m_path.string());
    }
    using Sink::write;

  private:
    static mode_t process_umask() {
        // Read, not set and restored: umask() is process-wide and other threads create files.
        static const mode_t mask = [] {
            std::string status = read_file("/proc/self/status");
            auto at = status.find("Umask:");
            return at == std::string::npos
                       ? mode_t{0777}  // unknown: always fchmod
                       : static_cast<mode_t>(std::stoul(status.substr(at + 6, 16), nullptr, 8));
        }();
        return mask;
    }
    static int open_new(const fs::path& path, mode_t mode) {
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0) {
            throw_errno("create", path.string(), errno);
        }
        return fd;
    }
    fs::path m_path;
    UniqueFd m_fd;
};

struct Wheel {
    ZipReader zip;
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
    const ZipMember* m = w.zip.find(path);
    if (m == nullptr) {
        if (required) {
            refuse(w.label, fmt::format("`{}` is missing", path));
        }
        return {};
    }
    return w.zip.read(*m);
}

Wheel open_wheel(const fs::path& path, const std::string& project, const Options& options) {
    Wheel w{ZipReader::open(path), path.filename().string(), {}, {}, {}, {}, {}, {}};
    std::string canonical = project;
    if (canonical.empty()) {
        if (auto name = wheel::WheelFilename::try_parse(w.label)) {
            canonical = name->name;
        }
    }
    canonical = pep508::normalize_name(canonical);
    std::set<std::string> info_dirs;
    for (const auto& m : w.zip.members()) {
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
    for (const auto& m : w.zip.members()) {
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

// One installed file in the staging tree, with what RECORD says of it.
struct Staged {
    std::string dest;
    std::string hash;
    std::string size;
    bool changed = false;
};

// Creates `dir` and its parents unless this install already did (saves a stat per component
// per file on trees of thousands of files).
void ensure_dir(const fs::path& dir, std::set<fs::path>& made) {
    if (made.insert(dir).second) {
        make_dirs(dir);
    }
}

Staged extract(const Wheel& w, const PlannedFile& f, const fs::path& stage,
               const std::string& interpreter, std::set<fs::path>& made) {
    const fs::path target = stage / f.dest;
    ensure_dir(target.parent_path(), made);
    const ZipMember& m = *f.member;
    auto row = w.record.find(m.name);
    const bool checked = !is_record_file(m.name, w.info_dir);
    auto check = [&](const Digest& digest, std::uint64_t size) {
        if (!checked) {
            return;
        }
        const auto& r = row->second;
        if (strip_padding(wheel_files::record_hash(digest)) != strip_padding(r.hash)) {
            refuse(w.label, fmt::format("`{}` does not match its RECORD hash (RECORD {}, file {})",
                                        m.name, r.hash, wheel_files::record_hash(digest)));
        }
        if (!r.size.empty() && r.size != std::to_string(size)) {
            refuse(w.label, fmt::format("`{}` is {} bytes, RECORD says {}", m.name, size, r.size));
        }
    };
    const mode_t mode = f.executable ? 0755 : 0644;
    Staged s{f.dest, {}, {}, false};
    if (f.kind == Kind::script) {
        std::string content = w.zip.read(m, 1ull << 30);
        check(Digest::of(content), content.size());
        if (auto fixed = wheel_files::rewrite_python_shebang(content, interpreter)) {
            content = std::move(*fixed);
            s.changed = true;
        }
        FileSink out(target, mode);
        out.write(content);
        if (s.changed) {
            s.hash = wheel_files::record_hash(Digest::of(content));
            s.size = std::to_string(content.size());
        }
        return s;
    }
    FileSink out(target, mode);
    HashingSink hashing(&out);
    w.zip.read(m, hashing);
    check(hashing.finish(), hashing.size());
    return s;
}

void write_generated(const fs::path& stage, const std::string& dest, std::string_view content,
                     mode_t mode, std::vector<wheel_files::RecordRow>& rows, const std::string& lib,
                     std::vector<std::string>& files) {
    const fs::path target = stage / dest;
    make_dirs(target.parent_path());
    std::error_code ec;
    fs::remove(target, ec);  // a generated file replaces one the wheel shipped (pip clobbers)
    FileSink out(target, mode);
    out.write(content);
    rows.push_back({fs::path(dest).lexically_relative(lib).string(),
                    wheel_files::record_hash(Digest::of(content)), std::to_string(content.size())});
    if (std::find(files.begin(), files.end(), dest) == files.end()) {
        files.push_back(dest);
    }
}

// Moves every staged file into the prefix; on failure puts back what it had moved.
void move_into_place(const fs::path& stage, const fs::path& prefix,
                     const std::vector<std::string>& files) {
    const fs::path backup = stage / ".envpack-replaced";
    struct Moved {
        fs::path final_path;
        std::optional<fs::path> saved;
    };
    std::vector<Moved> moved;
    std::set<fs::path> made;
    try {
        for (std::size_t i = 0; i < files.size(); ++i) {
            const fs::path from = stage / files[i];
            const fs::path to = prefix / files[i];
            ensure_dir(to.parent_path(), made);
            Moved entry{to, std::nullopt};
            struct stat st {};
            if (::lstat(to.c_str(), &st) == 0) {
                if (S_ISDIR(st.st_mode)) {
                    throw Error(
                        ErrorKind::conflict,
                        fmt::format("install `{}`: a directory is in the way", to.string()));
                }
                make_dirs(backup);
                fs::path saved = backup / std::to_string(i);
                if (::rename(to.c_str(), saved.c_str()) != 0) {
                    throw_errno("rename", to.string(), errno);
                }
                entry.saved = saved;
            }
            if (::rename(from.c_str(), to.c_str()) != 0) {
                int err = errno;
                if (entry.saved) {
                    (void)::rename(entry.saved->c_str(), to.c_str());
                }
                throw_errno("rename", from.string() + " -> " + to.string(), err);
            }
            moved.push_back(std::move(entry));
        }
    } catch (...) {
        for (auto it = moved.rbegin(); it != moved.rend(); ++it) {
            if (it->saved) {
                (void)::rename(it->saved->c_str(), it->final_path.c_str());
            } else {
                (void)::unlink(it->final_path.c_str());
            }
        }
        throw;
    }
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
    Wheel w = open_wheel(wheel_path, project, options);
    std::vector<PlannedFile> plan = plan_files(w, options);
    const std::string lib =
        fmt::format("lib/python{}.{}/site-packages", options.python_major, options.python_minor);
    const std::string interpreter = options.shebang_interpreter();

    make_dirs(options.prefix.parent_path());
    TempDir stage(".envpack-wheel-", options.prefix.parent_path());

    Installed result;
    result.name = w.metadata.name;
    result.version = w.metadata.version.to_string();
    result.dist_info = w.info_dir;

    std::map<std::string, Staged> staged;  // member name -> staged file
    std::set<fs::path> made;
    for (const auto& f : plan) {
        staged.emplace(f.member->name, extract(w, f, stage.path(), interpreter, made));
        result.files.push_back(f.dest);
    }

    // RECORD rows for the wheel's own files, mapped to their installed paths.
    std::vector<wheel_files::RecordRow> rows;
    for (const auto& row : w.record_rows) {
        auto it = staged.find(row.path);
        if (it == staged.end()) {
            rows.push_back(row);  // listed but not in the archive: kept as pip keeps it
            continue;
        }
        const Staged& s = it->second;
        std::string path = fs::path(s.dest).lexically_relative(lib).string();
        rows.push_back({path, s.changed ? s.hash : row.hash, s.changed ? s.size : row.size});
    }
    const std::string info = lib + "/" + w.info_dir;
    for (const auto& e : w.console) {
        write_generated(stage.path(), "bin/" + e.name, wheel_files::script_text(e, interpreter),
                        0755, rows, lib, result.files);
    }
    for (const auto& e : w.gui) {
        write_generated(stage.path(), "bin/" + e.name, wheel_files::script_text(e, interpreter),
                        0755, rows, lib, result.files);
    }
    write_generated(stage.path(), info + "/INSTALLER", options.installer + "\n", 0644, rows, lib,
                    result.files);
    if (!options.direct_url_json.empty()) {
        write_generated(stage.path(), info + "/direct_url.json", options.direct_url_json, 0644,
                        rows, lib, result.files);
    }
    if (options.requested == Requested::yes) {
        write_generated(stage.path(), info + "/REQUESTED", "", 0644, rows, lib, result.files);
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
    const std::string record_dest = info + "/RECORD";
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
    {
        const fs::path target = stage.path() / record_dest;
        std::error_code ec;
        fs::remove(target, ec);
        FileSink out(target, 0644);
        out.write(wheel_files::write_record(std::move(rows)));
        if (std::find(result.files.begin(), result.files.end(), record_dest) ==
            result.files.end()) {
            result.files.push_back(record_dest);
        }
    }
    std::sort(result.files.begin(), result.files.end());
    result.files.erase(std::unique(result.files.begin(), result.files.end()), result.files.end());
    move_into_place(stage.path(), options.prefix, result.files);
    return result;
}

}  // namespace envpack::wheel_install
