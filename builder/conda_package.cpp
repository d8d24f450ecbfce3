#include "builder/conda_package.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "core/archive.h"
#include "core/compress.h"
#include "core/error.h"
#include "core/fs.h"

namespace envpack {

namespace fs = std::filesystem;

std::optional<PackageFormat> package_format(std::string_view file_name) {
    if (file_name.ends_with(".conda")) {
        return PackageFormat::conda;
    }
    if (file_name.ends_with(".tar.bz2")) {
        return PackageFormat::tar_bz2;
    }
    return std::nullopt;
}

std::string package_stem(std::string_view file_name) {
    if (file_name.ends_with(".conda")) {
        file_name.remove_suffix(6);
    } else if (file_name.ends_with(".tar.bz2")) {
        file_name.remove_suffix(8);
    }
    return std::string(file_name);
}

std::optional<std::string> resolve_link_inside(std::string_view link_path,
                                               std::string_view target) {
    if (target.empty() || target.starts_with("/")) {
        return std::nullopt;
    }
    std::vector<std::string> parts;
    size_t slash = link_path.rfind('/');
    std::string_view dir =
        slash == std::string_view::npos ? std::string_view() : link_path.substr(0, slash);
    auto push = [&parts](std::string_view text) {
        size_t i = 0;
        while (i <= text.size()) {
            size_t j = text.find('/', i);
            if (j == std::string_view::npos) {
                j = text.size();
            }
            std::string_view comp = text.substr(i, j - i);
            if (comp == "..") {
                if (parts.empty()) {
                    return false;
                }
                parts.pop_back();
            } else if (!comp.empty() && comp != ".") {
                parts.emplace_back(comp);
            }
            i = j + 1;
        }
        return true;
    };
    if (!push(dir) || !push(target)) {
        return std::nullopt;
    }
    std::string out;
    for (const auto& p : parts) {
        out += out.empty() ? p : "/" + p;
    }
    return out;
}

namespace {

class FdSink : public Sink {
  public:
    FdSink(int fd, std::string name) : m_fd(fd), m_name(std::move(name)) {}
    void write(const void* data, size_t size) override { write_all(m_fd, data, size, m_name); }
    using Sink::write;

  private:
    int m_fd;
    std::string m_name;
};

// Extracts one tar stream into `root`, checking every entry. `package` names the file in errors.
class TarExtractor {
  public:
    TarExtractor(fs::path root, std::string package)
        : m_root(std::move(root)), m_package(std::move(package)) {}

    void extract(ArchiveReader& reader) {
        while (auto e = reader.next()) {
            auto rel = safe_relative_path(e->path);
            if (!rel) {
                throw refuse(e->path, "is absolute or has a `..` component");
            }
            if (rel->empty()) {
                continue;
            }
            check_parents(*rel, e->path);
            fs::path dest = m_root / *rel;
            std::error_code ec;
            switch (e->type) {
                case ArchiveEntry::Type::directory:
                    fs::create_directories(dest, ec);
                    if (ec) {
                        throw Error(fmt::format("extract `{}`: create `{}`: {}", m_package,
                                                dest.string(), ec.message()));
                    }
                    ::chmod(dest.c_str(), (e->mode & 07777) | 0700);
                    break;
                case ArchiveEntry::Type::symlink: {
                    if (e->link_target.empty()) {
                        // Some real packages (conda's own zlib test .conda) carry links with no
                        // target; their .tar.bz2 twins hold empty files there. Write the same empty
                        // file so both formats extract alike; the installer repairs the link from
                        // info/paths.json (see conda_install.h).
                        make_parent(dest);
                        fs::remove(dest, ec);
                        write_file_atomic(dest, "", Durability::none);
                        break;
                    }
                    if (!resolve_link_inside(*rel, e->link_target)) {
                        throw refuse(e->path,
                                     fmt::format("is a symbolic link to `{}`, outside the prefix",
                                                 e->link_target));
                    }
                    make_parent(dest);
                    fs::remove(dest, ec);
                    if (::symlink(e->link_target.c_str(), dest.c_str()) != 0) {
                        throw_errno("symlink", dest.string(), errno);
                    }
                    break;
                }
                case ArchiveEntry::Type::hardlink: {
                    auto target = safe_relative_path(e->link_target);
                    if (!target || target->empty()) {
                        throw refuse(e->path,
                                     fmt::format("is a hard link to `{}`, outside the prefix",
                                                 e->link_target));
                    }
                    check_parents(*target, e->link_target);
                    make_parent(dest);
                    fs::remove(dest, ec);
                    if (::link((m_root / *target).c_str(), dest.c_str()) != 0) {
                        throw_errno("link", dest.string(), errno);
                    }
                    break;
                }
                case ArchiveEntry::Type::file: {
                    make_parent(dest);
                    fs::remove(dest, ec);
                    int fd =
                        ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                               (e->mode & 0777) | 0600);
                    if (fd < 0) {
                        throw_errno("create", dest.string(), errno);
                    }
                    try {
                        FdSink sink(fd, dest.string());
                        reader.read_data(sink);
                    } catch (...) {
                        ::close(fd);
                        throw;
                    }
                    ::fchmod(fd, e->mode & 07777);
                    ::close(fd);
                    break;
                }
                case ArchiveEntry::Type::other:
                    throw refuse(e->path, "is a device, fifo or socket");
            }
        }
    }

  private:
    Error refuse(std::string_view entry, std::string_view why) const {
        return bad_input(fmt::format("package `{}`: entry `{}` {}", m_package, entry, why),
                         "the package is unsafe or damaged; nothing from it was installed");
    }

    // Refuses writing through a symlink that an earlier entry created.
    void check_parents(const std::string& rel, std::string_view entry) const {
        size_t pos = 0;
        while ((pos = rel.find('/', pos)) != std::string::npos) {
            struct stat st {};
            if (::lstat((m_root / rel.substr(0, pos)).c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
                throw refuse(entry, fmt::format("is reached through the symbolic link `{}`",
                                                rel.substr(0, pos)));
            }
            ++pos;
        }
    }

    void make_parent(const fs::path& dest) const {
        std::error_code ec;
        fs::create_directories(dest.parent_path(), ec);
        if (ec) {
            throw Error(fmt::format("extract `{}`: create `{}`: {}", m_package,
                                    dest.parent_path().string(), ec.message()));
        }
    }

    fs::path m_root;
    std::string m_package;
};

void extract_conda_format(const fs::path& archive, const fs::path& dest) {
    const std::string name = archive.filename().string();
    const std::string stem = package_stem(name);
    bool have_info = false;
    bool have_pkg = false;
    ArchiveReader zip(archive);
    while (auto e = zip.next()) {
        const std::string& p = e->path;
        bool info = p.starts_with("info-") && p.ends_with(".tar.zst");
        bool pkg = p.starts_with("pkg-") && p.ends_with(".tar.zst");
        if (!info && !pkg) {
            if (p.find("/info-") != std::string::npos || p.find("/pkg-") != std::string::npos) {
                throw bad_input(
                    fmt::format("package `{}`: entry `{}` is not at the top level of the zip", name,
                                p),
                    "a .conda file holds metadata.json, info-*.tar.zst and pkg-*.tar.zst at its "
                    "top "
                    "level; this one was re-zipped under a directory, rebuild or re-download it");
            }
            continue;
        }
        // Each inner tar goes to a temp file beside `dest` so large payloads never sit in memory.
        fs::path tmp = dest.parent_path() / fmt::format(".tmp-{}-{}", stem, info ? "info" : "pkg");
        {
            AtomicFile out(tmp, Durability::none);
            zip.read_data(out);
            out.commit();
        }
        try {
            ArchiveReader inner(tmp);
            TarExtractor(dest, name + "!" + p).extract(inner);
        } catch (...) {
            fs::remove(tmp);
            throw;
        }
        fs::remove(tmp);
        (info ? have_info : have_pkg) = true;
    }
    if (!have_info || !have_pkg) {
        throw bad_input(
            fmt::format("package `{}`: no top-level {}", name,
                        !have_info ? "info-*.tar.zst" : "pkg-*.tar.zst"),
            "a .conda file holds metadata.json, info-*.tar.zst and pkg-*.tar.zst at its top level");
    }
}

std::optional<std::string> find_member(ArchiveReader& reader, std::string_view member) {
    while (auto e = reader.next()) {
        auto rel = safe_relative_path(e->path);
        if (rel && *rel == member && e->type == ArchiveEntry::Type::file) {
            StringSink sink;
            reader.read_data(sink);
            return std::move(sink.data());
        }
    }
    return std::nullopt;
}

}  // namespace

std::string read_package_info_file(const fs::path& archive, std::string_view member) {
    const std::string name = archive.filename().string();
    auto format = package_format(name);
    if (!format) {
        throw bad_input(
            fmt::format("package `{}`: not a .conda or .tar.bz2 file", archive.string()));
    }
    std::optional<std::string> found;
    if (*format == PackageFormat::tar_bz2) {
        ArchiveReader reader(archive);
        found = find_member(reader, member);
    } else {
        ArchiveReader zip(archive);
        while (auto e = zip.next()) {
            if (e->path.starts_with("info-") && e->path.ends_with(".tar.zst")) {
                StringSink inner_bytes;
                zip.read_data(inner_bytes);
                ArchiveReader inner(inner_bytes.data().data(), inner_bytes.data().size(),
                                    name + "!" + e->path);
                found = find_member(inner, member);
                break;
            }
        }
    }
    if (!found) {
        throw bad_input(fmt::format("package `{}`: no `{}`", archive.string(), member),
                        "this is not a conda package, or a damaged one");
    }
    return *found;
}

void extract_conda_package(const fs::path& archive, const fs::path& dest) {
    const std::string name = archive.filename().string();
    auto format = package_format(name);
    if (!format) {
        throw bad_input(
            fmt::format("package `{}`: not a .conda or .tar.bz2 file", archive.string()));
    }
    make_dirs(dest);
    try {
        if (*format == PackageFormat::conda) {
            extract_conda_format(archive, dest);
        } else {
            ArchiveReader reader(archive);
            TarExtractor(dest, name).extract(reader);
        }
        if (!fs::exists(dest / "info" / "index.json")) {
            throw bad_input(fmt::format("package `{}`: no info/index.json", name),
                            "this is not a conda package");
        }
    } catch (...) {
        std::error_code ec;
        fs::remove_all(dest, ec);
        throw;
    }
}

}  // namespace envpack
