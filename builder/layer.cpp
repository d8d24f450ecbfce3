#include "builder/layer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/archive.h"
#include "core/error.h"
#include "core/tar_writer.h"
#include "core/zip.h"
#include "registry/image.h"

namespace envpack {

namespace fs = std::filesystem;

std::optional<std::int64_t> source_date_epoch_from_env() {
    const char* v = std::getenv("SOURCE_DATE_EPOCH");
    if (v == nullptr || *v == '\0') {
        return std::nullopt;
    }
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < 0) {
        throw bad_input(fmt::format("SOURCE_DATE_EPOCH=`{}` is not a non-negative integer", v),
                        "set it to seconds since 1970-01-01, or unset it");
    }
    return n;
}

namespace {

// "./a//b/" or "/a/b" -> "a/b" (entries are relative to the image root); throws on "..".
std::string normalize_path(std::string_view p) {
    size_t start = p.find_first_not_of('/');
    auto rel =
        safe_relative_path(start == std::string_view::npos ? std::string_view() : p.substr(start));
    if (!rel) {
        throw bad_input(fmt::format("layer entry `{}` has a `..` component", p),
                        "paths in a layer must stay inside the image root");
    }
    return *rel;
}

std::string parent_of(const std::string& p) {
    auto slash = p.rfind('/');
    return slash == std::string::npos ? std::string() : p.substr(0, slash);
}

// Members smaller than this are compressed with their neighbours rather than copied in as gzip
// members of their own: a copied member costs 32 bytes of framing and ends the member holding the
// tar header before it, and small files compress better together. (Measured on bench/pip.sh's
// wheels: 0, 512 and 4096 bytes give the same build time and layer sizes within 0.1%.)
constexpr std::uint64_t k_splice_min = 4096;

// Writes a zip member's content into the tar: inflated once, checked by e.verify, and in a gzip
// layer its deflate stream copied as it is (CompressingSink::write_deflated).
void copy_zip_member(const LayerEntry& e, HashingSink& tar, CompressingSink* compressor,
                     const std::function<void(std::uint64_t)>& progress) {
    const ZipMember& m = *e.zip_member;
    if (e.size != m.size) {
        throw internal_error(fmt::format("layer entry `{}`: size {} but its zip member has {}",
                                         e.path, e.size, m.size));
    }
    if (!e.zip->fits_whole(m)) {
        HashingSink check(&tar);
        e.zip->read(m, check);
        if (e.verify) {
            e.verify(check.finish(), check.size());
        }
    } else {
        e.zip->view(m, [&](const ZipReader::MemberView& v) {
            if (e.verify) {
                e.verify(Digest::of(v.data), v.data.size());
            }
            if (compressor != nullptr && v.exact_deflate && m.size >= k_splice_min &&
                compressor->write_deflated(v.stored, m.crc32, m.size)) {
                tar.hash_only(v.data);
            } else {
                tar.write(v.data.data(), v.data.size());
            }
        });
    }
    if (progress) {
        progress(m.size);
    }
}

class FileReader {
  public:
    explicit FileReader(size_t buffer) : m_buf(buffer, '\0') {}

    // Copies exactly e.size bytes of e.source to out, failing if the file changed.
    void copy(const LayerEntry& e, Sink& out, const std::function<void(std::uint64_t)>& progress) {
        int fd = ::open(e.source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            throw_errno("open", e.source.string(), errno);
        }
        std::uint64_t left = e.size;
        while (left > 0) {
            ssize_t n = ::read(fd, m_buf.data(), std::min<std::uint64_t>(left, m_buf.size()));
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                int err = errno;
                ::close(fd);
                throw_errno("read", e.source.string(), err);
            }
            if (n == 0) {
                ::close(fd);
                throw changed(e, "it shrank");
            }
            out.write(m_buf.data(), static_cast<size_t>(n));
            left -= static_cast<std::uint64_t>(n);
            if (progress) {
                progress(static_cast<std::uint64_t>(n));
            }
        }
        char extra;
        ssize_t more = ::read(fd, &extra, 1);
        struct stat st {};
        int rc = ::fstat(fd, &st);
        ::close(fd);
        if (more > 0) {
            throw changed(e, "it grew");
        }
        if (e.expect_mtime_ns && rc == 0) {
            std::int64_t mt =
                static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
            if (mt != *e.expect_mtime_ns || static_cast<std::uint64_t>(st.st_size) != e.size) {
                throw changed(e, "its size or modification time changed");
            }
        }
    }

  private:
    static Error changed(const LayerEntry& e, std::string_view how) {
        return Error(
            fmt::format("file `{}` changed while it was being read ({})", e.source.string(), how),
            "stop whatever is writing it (or ignore it) and try again");
    }
    std::string m_buf;
};

}  // namespace

std::uint64_t content_size(const std::vector<LayerEntry>& entries) {
    std::uint64_t bytes = 0;
    for (const auto& e : entries) {
        bytes += e.type == EntryType::file ? e.size : 0;
    }
    return bytes;
}

LayerResult write_layer(std::vector<LayerEntry> entries, const LayerOptions& options, Sink& out) {
    // Normalise paths; the last entry for a path wins.
    std::map<std::string, LayerEntry> by_path;
    for (auto& e : entries) {
        std::string p = normalize_path(e.path);
        if (p.empty()) {
            continue;  // the root itself
        }
        e.path = p;
        if (e.type == EntryType::hardlink) {
            e.link_target = normalize_path(e.link_target);
        }
        by_path.insert_or_assign(p, std::move(e));
    }
    // Parents first: synthesise missing directories.
    std::vector<std::string> missing;
    for (const auto& [p, e] : by_path) {
        for (std::string d = parent_of(p); !d.empty(); d = parent_of(d)) {
            auto it = by_path.find(d);
            if (it != by_path.end()) {
                if (it->second.type != EntryType::directory) {
                    throw bad_input(fmt::format(
                        "layer entry `{}` is inside `{}`, which is not a directory", p, d));
                }
                break;
            }
            missing.push_back(d);
        }
    }
    for (const auto& d : missing) {
        LayerEntry dir;
        dir.path = d;
        dir.type = EntryType::directory;
        dir.mode = 0755;
        by_path.try_emplace(d, std::move(dir));
    }
    // Hard links: the first path (bytewise) of each group carries the content.
    std::map<std::string, std::string> group_root;  // any member -> file path that holds content
    for (auto& [p, e] : by_path) {
        if (e.type != EntryType::hardlink) {
            continue;
        }
        auto target = by_path.find(e.link_target);
        if (target == by_path.end() || target->second.type == EntryType::directory) {
            throw bad_input(
                fmt::format("hard link `{}` points at `{}`, which is not a file in the layer", p,
                            e.link_target));
        }
        if (target->second.type == EntryType::hardlink) {
            e.link_target = target->second.link_target;  // one level is all a tar reader needs
            target = by_path.find(e.link_target);
        }
        if (p < e.link_target) {
            // The link sorts before its target: move the content to this path.
            LayerEntry content = target->second;
            std::string old_root = e.link_target;
            content.path = p;
            LayerEntry link = e;
            link.path = old_root;
            link.type = EntryType::hardlink;
            link.link_target = p;
            link.source.clear();
            link.data.clear();
            link.zip.reset();
            link.zip_member = nullptr;
            link.verify = nullptr;
            target->second = link;
            e = content;
            for (auto& [q, other] : by_path) {
                if (other.type == EntryType::hardlink && other.link_target == old_root) {
                    other.link_target = p;
                }
            }
        }
    }

    std::string compression(to_string(options.compression));
    // Uncompressed, the blob is the tar: hash it once.
    bool plain = options.compression == Compression::none;
    HashingSink compressed(&out);
    const bool hash_blob = !plain && options.blob_digest == BlobDigest::compute;
    // The compressor's output comes in small pieces where a layer holds many small members (a
    // wheel's files copied in) or is not compressed.
    BufferedSink buffered(hash_blob ? static_cast<Sink&>(compressed) : out);
    auto compressor = make_compressor(options.compression, buffered, options.threads);
    HashingSink tar(compressor.get());
    FileReader reader(1 << 20);
    LayerResult result;
    for (const auto& [p, e] : by_path) {
        tar::TarHeader h;
        h.mode = e.mode & 07777;
        h.mtime = options.source_date_epoch ? std::min(e.mtime, *options.source_date_epoch) : 0;
        if (options.owners == Owners::keep) {
            h.uid = e.uid;
            h.gid = e.gid;
            h.uname = e.uname;
            h.gname = e.gname;
            if (e.type != EntryType::hardlink) {
                h.xattrs.assign(e.xattrs.begin(), e.xattrs.end());
            }
        }
        switch (e.type) {
            case EntryType::directory:
                h.name = p + "/";
                h.typeflag = '5';
                break;
            case EntryType::symlink:
                h.name = p;
                h.typeflag = '2';
                h.linkname = e.link_target;
                break;
            case EntryType::hardlink:
                h.name = p;
                h.typeflag = '1';
                h.linkname = e.link_target;
                break;
            case EntryType::file:
                h.name = p;
                h.typeflag = '0';
                h.size = e.source.empty() && e.zip_member == nullptr ? e.data.size() : e.size;
                break;
        }
        tar::write_tar_header(tar, h);
        if (e.type == EntryType::file) {
            ++result.files;
            if (e.zip_member != nullptr) {
                copy_zip_member(e, tar, plain ? nullptr : compressor.get(), options.on_progress);
            } else if (e.source.empty()) {
                tar.write(e.data);
            } else {
                reader.copy(e, tar, options.on_progress);
            }
            tar::write_tar_padding(tar, h.size);
        }
    }
    tar::write_tar_end(tar);
    compressor->finish();
    buffered.flush();
    result.diff_id = tar.finish();
    result.uncompressed_size = tar.size();
    if (plain) {
        result.digest = result.diff_id;
        result.size = result.uncompressed_size;
    } else if (hash_blob) {
        result.digest = compressed.finish();
        result.size = compressed.size();
    }
    result.media_type = layer_media_type(compression);
    return result;
}

std::map<std::uint32_t, std::string> parse_id_names(std::string_view text) {
    std::map<std::uint32_t, std::string> names;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        std::string_view line =
            text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        pos = end == std::string_view::npos ? text.size() : end + 1;
        // name:password:id:...
        size_t c1 = line.find(':');
        size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string_view::npos || c1 == 0 || line.front() == '#') {
            continue;
        }
        size_t c3 = line.find(':', c2 + 1);
        std::string_view id = line.substr(c2 + 1, c3 == std::string_view::npos ? c3 : c3 - c2 - 1);
        std::uint32_t n = 0;
        auto [ptr, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
        if (ec != std::errc() || ptr != id.data() + id.size() || id.empty()) {
            continue;
        }
        names.try_emplace(n, line.substr(0, c1));
    }
    return names;
}

namespace {

bool kept_xattr(std::string_view name) {
    return (name.starts_with("user.") || name.starts_with("security.")) &&
           name != "security.selinux";
}

bool no_xattr_support(int err) {
    return err == ENOTSUP || err == ENOSYS;
}

}  // namespace

Xattrs read_xattrs(const fs::path& path) {
    Xattrs out;
    std::string names;
    for (;;) {
        ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
        if (n < 0) {
            if (no_xattr_support(errno)) {
                return out;
            }
            throw_errno("list xattrs of", path.string(), errno);
        }
        if (n == 0) {
            return out;
        }
        names.assign(static_cast<size_t>(n), '\0');
        n = ::llistxattr(path.c_str(), names.data(), names.size());
        if (n >= 0) {
            names.resize(static_cast<size_t>(n));
            break;
        }
        if (errno != ERANGE) {
            throw_errno("list xattrs of", path.string(), errno);
        }
    }
    for (size_t i = 0; i < names.size();) {
        std::string name(names.c_str() + i);
        i += name.size() + 1;
        if (!kept_xattr(name)) {
            continue;
        }
        std::string value;
        for (;;) {
            ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
            if (n < 0) {
                if (errno == ENODATA) {
                    break;  // removed meanwhile
                }
                throw_errno(fmt::format("read xattr {} of", name), path.string(), errno);
            }
            value.assign(static_cast<size_t>(n), '\0');
            n = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
            if (n >= 0) {
                value.resize(static_cast<size_t>(n));
                out.emplace(name, std::move(value));
                break;
            }
            if (errno != ERANGE) {
                throw_errno(fmt::format("read xattr {} of", name), path.string(), errno);
            }
        }
    }
    return out;
}

namespace {

// The tree's own etc/passwd or etc/group, read without following symlinks out of the tree;
// empty when missing.
std::string read_tree_etc_file(const fs::path& root, const char* name) {
    int etc = ::open((root / "etc").c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (etc < 0) {
        return {};
    }
    int fd = ::openat(etc, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ::close(etc);
    if (fd < 0) {
        return {};
    }
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        text.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return text;
}

struct Scanner {
    Log& log;
    const ScanOptions& options;
    std::vector<LayerEntry> entries;
    std::map<std::pair<dev_t, ino_t>, std::string> inodes;
    std::map<std::uint32_t, std::string> users;
    std::map<std::uint32_t, std::string> groups;

    void set_owners(LayerEntry& e, const struct stat& st, const fs::path& full) {
        if (options.owners != Owners::keep) {
            return;
        }
        e.uid = st.st_uid;
        e.gid = st.st_gid;
        if (auto it = users.find(st.st_uid); it != users.end()) {
            e.uname = it->second;
        }
        if (auto it = groups.find(st.st_gid); it != groups.end()) {
            e.gname = it->second;
        }
        if (e.type != EntryType::hardlink) {
            e.xattrs = read_xattrs(full);
        }
    }

    void scan_dir(const fs::path& dir, const std::string& rel) {
        DIR* d = ::opendir(dir.c_str());
        if (d == nullptr) {
            throw_errno("read directory", dir.string(), errno,
                        errno == EACCES ? "make it readable or leave it out of the tree" : "");
        }
        std::vector<std::string> names;
        while (dirent* de = ::readdir(d)) {
            std::string_view n = de->d_name;
            if (n != "." && n != "..") {
                names.emplace_back(n);
            }
        }
        ::closedir(d);
        std::sort(names.begin(), names.end());
        for (const auto& name : names) {
            fs::path full = dir / name;
            std::string r = rel.empty() ? name : rel + "/" + name;
            struct stat st {};
            if (::lstat(full.c_str(), &st) != 0) {
                throw_errno("stat", full.string(), errno);
            }
            LayerEntry e;
            e.path = r;
            e.mode = st.st_mode & 07777;
            e.mtime = st.st_mtim.tv_sec;
            if (S_ISDIR(st.st_mode)) {
                e.type = EntryType::directory;
                set_owners(e, st, full);
                entries.push_back(e);
                scan_dir(full, r);
            } else if (S_ISREG(st.st_mode)) {
                if (::access(full.c_str(), R_OK) != 0 && ::geteuid() != 0) {
                    throw_errno("read", full.string(), EACCES,
                                "make it readable or leave it out of the tree");
                }
                e.type = EntryType::file;
                e.size = static_cast<std::uint64_t>(st.st_size);
                e.source = full;
                if (st.st_nlink > 1) {
                    auto [it, inserted] = inodes.try_emplace({st.st_dev, st.st_ino}, r);
                    if (!inserted) {
                        e.type = EntryType::hardlink;
                        e.link_target = it->second;
                        e.source.clear();
                        e.size = 0;
                    }
                }
                set_owners(e, st, full);
                entries.push_back(e);
            } else if (S_ISLNK(st.st_mode)) {
                std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
                ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
                if (n < 0) {
                    throw_errno("read link", full.string(), errno);
                }
                target.resize(static_cast<size_t>(n));
                e.type = EntryType::symlink;
                e.mode = 0777;
                e.link_target = target;
                set_owners(e, st, full);
                entries.push_back(e);
            } else {
                const char* kind = S_ISSOCK(st.st_mode)   ? "socket"
                                   : S_ISFIFO(st.st_mode) ? "fifo"
                                                          : "device node";
                if (options.warn_special) {
                    log.warnf("skipping {} `{}` (not stored in layers)", kind, full.string());
                }
            }
        }
    }
};

}  // namespace

std::vector<LayerEntry> scan_tree(const fs::path& root, Log& log, const ScanOptions& options) {
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0) {
        throw_errno("read", root.string(), errno);
    }
    if (!S_ISDIR(st.st_mode)) {
        throw bad_input(fmt::format("`{}` is not a directory", root.string()));
    }
    Scanner s{log, options, {}, {}, {}, {}};
    if (options.owners == Owners::keep) {
        s.users = parse_id_names(read_tree_etc_file(root, "passwd"));
        s.groups = parse_id_names(read_tree_etc_file(root, "group"));
    }
    s.scan_dir(root, "");
    return std::move(s.entries);
}

}  // namespace envpack
