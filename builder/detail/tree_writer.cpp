#include "builder/detail/tree_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "core/archive.h"
#include "core/error.h"
#include "core/fs.h"

namespace envpack::detail {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_whiteout = ".wh.";
constexpr std::string_view k_opaque = ".wh..wh..opq";
constexpr std::size_t k_max_cached_dirs = 256;

using Fd = UniqueFd;

std::pair<std::string, std::string> split(const std::string& rel) {
    auto slash = rel.rfind('/');
    if (slash == std::string::npos) {
        return {"", rel};
    }
    return {rel.substr(0, slash), rel.substr(slash + 1)};
}

std::string join(const std::string& dir, std::string_view name) {
    return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

bool no_support(int err) {
    return err == ENOTSUP || err == EOPNOTSUPP || err == EPERM || err == EACCES || err == ENOSYS;
}

}  // namespace

TreeWriter::TreeWriter(const fs::path& root, Log& log) : m_root(root), m_log(log) {
    m_root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (m_root_fd < 0) {
        throw_errno("open", root.string(), errno);
    }
    // A root made inside a setgid directory inherits its group bit, and every file created here
    // would take that group where an entry asks for the creator's: clear it (the layer's `./`
    // entry, if any, sets the root's mode in finish()).
    struct stat st {};
    if (::fstat(m_root_fd, &st) == 0 && (st.st_mode & S_ISGID) != 0) {
        ::fchmod(m_root_fd, st.st_mode & 07777 & ~S_ISGID);
    }
}

TreeWriter::~TreeWriter() {
    for (auto& [rel, fd] : m_dirs) {
        ::close(fd);
    }
    ::close(m_root_fd);
}

void TreeWriter::fail(std::string_view what, const std::string& rel, int err,
                      std::string hint) const {
    if (hint.empty() && (err == ENOSPC || err == EDQUOT)) {
        hint =
            fmt::format("free some space on the filesystem of {} and try again", m_root.string());
    }
    throw Error(fmt::format("unpack layer {}: {} `{}`: {}", m_layer, what, rel, std::strerror(err)),
                std::move(hint));
}

void TreeWriter::begin_layer(std::string layer) {
    m_layer = std::move(layer);
    m_layer_paths.clear();
    m_layer_skipped = 0;
    m_first_skipped.clear();
}

void TreeWriter::end_layer() {
    if (m_layer_skipped > 0) {
        m_log.warnf(
            "layer {}: skipped {} device node(s), fifo(s) or other special entries (first: `{}`); "
            "container runtimes create /dev themselves",
            m_layer, m_layer_skipped, m_first_skipped);
    }
    m_layer_paths.clear();
}

int TreeWriter::open_dir(const std::string& rel, std::string_view entry) {
    for (int attempt = 0;; ++attempt) {
        int fd = -1;
        int err = 0;
        if (m_openat2) {
            open_how how{};
            how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
            how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
            fd = static_cast<int>(::syscall(SYS_openat2, m_root_fd, rel.c_str(), &how, sizeof how));
            err = errno;
            if (fd < 0 && err == ENOSYS) {
                m_openat2 = false;
                continue;
            }
        } else {
            // No openat2: walk component by component and refuse symlinks.
            auto [dir, name] = split(rel);
            int parent = dir.empty() ? m_root_fd : open_dir(dir, entry);
            fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            err = errno;
            if (parent != m_root_fd) {
                ::close(parent);
            }
            if (fd < 0 && (err == ELOOP || err == ENOTDIR)) {
                throw Error(fmt::format("unpack layer {}: entry `{}` passes through `{}`, which is "
                                        "a symbolic link or not a directory",
                                        m_layer, entry, rel),
                            "this kernel has no openat2 to resolve links inside the tree");
            }
        }
        if (fd >= 0) {
            return fd;
        }
        if (err == ENOTDIR) {
            throw Error(fmt::format("unpack layer {}: entry `{}` is inside `{}`, which is not a "
                                    "directory",
                                    m_layer, entry, rel),
                        "the layer is malformed");
        }
        if (err == ENOENT && attempt > 0) {
            throw Error(fmt::format("unpack layer {}: entry `{}` cannot be written: `{}` is a "
                                    "symbolic link to nothing",
                                    m_layer, entry, rel),
                        "the layer expects a directory that a lower layer does not provide");
        }
        if (err != ENOENT) {
            fail("open directory", rel, err);
        }
        // Missing: create it (and its parents) as umoci does, 0755.
        auto [dir, name] = split(rel);
        int parent = dir_fd(dir, entry);
        if (::mkdirat(parent, name.c_str(), 0755) != 0 && errno != EEXIST) {
            fail("create directory", rel, errno);
        }
    }
}

int TreeWriter::dir_fd(const std::string& rel, std::string_view entry) {
    if (rel.empty()) {
        return m_root_fd;
    }
    if (auto it = m_dirs.find(rel); it != m_dirs.end()) {
        return it->second;
    }
    int fd = open_dir(rel, entry);
    if (m_dirs.size() >= k_max_cached_dirs) {
        for (auto& [r, f] : m_dirs) {
            ::close(f);
        }
        m_dirs.clear();
    }
    m_dirs.emplace(rel, fd);
    return fd;
}

void TreeWriter::forget_under(const std::string& rel) {
    for (auto& [r, f] : m_dirs) {
        ::close(f);
    }
    m_dirs.clear();
    auto it = m_deferred.lower_bound(rel);
    while (it != m_deferred.end() &&
           (it->first == rel || (it->first.size() > rel.size() && it->first.starts_with(rel) &&
                                 it->first[rel.size()] == '/'))) {
        it = m_deferred.erase(it);
    }
    // Paths with other characters between rel and rel + "/" ("a-b" between "a" and "a/") sort
    // in the middle; skip over them.
    for (auto jt = m_deferred.lower_bound(rel + "/");
         jt != m_deferred.end() && jt->first.starts_with(rel + "/");) {
        jt = m_deferred.erase(jt);
    }
}

void TreeWriter::remove_tree(int parent, const std::string& name) {
    int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        fail("open directory to remove", name, errno);
    }
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
        int err = errno;
        ::close(fd);
        fail("read directory", name, err);
    }
    std::vector<std::pair<std::string, bool>> children;
    while (dirent* de = ::readdir(d)) {
        std::string_view n = de->d_name;
        if (n == "." || n == "..") {
            continue;
        }
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st {};
            is_dir =
                ::fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        children.emplace_back(std::string(n), is_dir);
    }
    for (const auto& [child, is_dir] : children) {
        if (is_dir) {
            remove_tree(fd, child);
        } else if (::unlinkat(fd, child.c_str(), 0) != 0 && errno != ENOENT) {
            int err = errno;
            ::closedir(d);
            fail("remove", child, err);
        }
    }
    ::closedir(d);
    if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
        fail("remove directory", name, errno);
    }
}

void TreeWriter::remove_child(int parent, const std::string& name, const std::string& rel) {
    struct stat st {};
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
            return;
        }
        fail("stat", rel, errno);
    }
    if (S_ISDIR(st.st_mode)) {
        remove_tree(parent, name);
        forget_under(rel);  // closes `parent` too when it was cached
    } else if (::unlinkat(parent, name.c_str(), 0) != 0 && errno != ENOENT) {
        fail("remove", rel, errno);
    }
}

void TreeWriter::set_owner(int fd, int parent, const std::string& name, const TarEntry& e,
                           const std::string& rel) {
    if (m_chown_failed_noted) {
        return;
    }
    int rc = fd >= 0 ? ::fchown(fd, e.uid, e.gid)
                     : ::fchownat(parent, name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
    if (rc == 0) {
        return;
    }
    int err = errno;
    if (err == EPERM || err == EINVAL) {
        m_chown_failed_noted = true;
        m_log.warnf(
            "unpack: cannot give `{}` the owner {}:{} ({}); files keep the ids of the user "
            "unpacking (run as root to keep owners)",
            rel, e.uid, e.gid, std::strerror(err));
        return;
    }
    fail("change the owner of", rel, err);
}

void TreeWriter::set_xattrs(int fd, int parent, const std::string& name, const TarEntry& e,
                            const std::string& rel) {
    for (const auto& [key, value] : e.xattrs) {
        if (key == "security.selinux") {
            continue;  // a label of the machine the layer was made on
        }
        int rc = 0;
        if (fd >= 0) {
            rc = ::fsetxattr(fd, key.c_str(), value.data(), value.size(), 0);
        } else {
            std::string path = fmt::format("/proc/self/fd/{}/{}", parent, name);
            rc = ::lsetxattr(path.c_str(), key.c_str(), value.data(), value.size(), 0);
        }
        if (rc == 0) {
            continue;
        }
        int err = errno;
        if (!no_support(err)) {
            fail(fmt::format("set xattr {} on", key), rel, err);
        }
        if (!m_xattr_failed_noted) {
            m_xattr_failed_noted = true;
            m_log.warnf(
                "unpack: cannot keep xattr {} on `{}` ({}): the filesystem under {} does "
                "not allow it; other xattrs it refuses are dropped without a warning",
                key, rel, std::strerror(err), m_root.string());
        }
    }
}

void TreeWriter::write_file(
    int parent, const std::string& name, const std::string& rel, const TarEntry& e,
    const std::function<void(const std::function<void(std::string_view)>&)>& data) {
    int raw =
        ::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (raw < 0 && errno == EEXIST) {
        remove_child(parent, name, rel);
        parent = dir_fd(split(rel).first, e.path);
        raw = ::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600);
    }
    if (raw < 0) {
        fail("create", rel, errno);
    }
    Fd fd(raw);
    std::string display;
    data([&](std::string_view v) {
        ssize_t n = ::write(fd.get(), v.data(), v.size());
        if (n == static_cast<ssize_t>(v.size())) {
            m_stats.bytes += v.size();
            return;
        }
        if (display.empty()) {
            display = (m_root / rel).string();
        }
        if (n < 0 && errno != EINTR) {
            fail("write", rel, errno);
        }
        std::size_t done = n < 0 ? 0 : static_cast<std::size_t>(n);
        write_all(fd.get(), v.data() + done, v.size() - done, display);
        m_stats.bytes += v.size();
    });
    if (e.uid != ::geteuid() || e.gid != ::getegid()) {
        set_owner(fd.get(), -1, name, e, rel);
    }
    if (::fchmod(fd.get(), e.mode & 07777) != 0) {
        fail("set the mode of", rel, errno);
    }
    set_xattrs(fd.get(), -1, name, e, rel);
    timespec ts[2] = {{e.mtime, e.mtime_nsec}, {e.mtime, e.mtime_nsec}};
    ::futimens(fd.get(), ts);
    if (::close(fd.release()) != 0) {
        fail("close", rel, errno);
    }
    ++m_stats.files;
}

void TreeWriter::apply(
    const TarEntry& e,
    const std::function<void(const std::function<void(std::string_view)>&)>& data) {
    ++m_stats.entries;
    auto normalized = safe_relative_path(e.path);
    if (!normalized || (!e.path.empty() && e.path.front() == '/')) {
        throw Error(fmt::format("unpack layer {}: entry `{}` is an absolute path or leaves the "
                                "root through `..`; refused",
                                m_layer, e.path),
                    "the layer is malformed or hostile; nothing was unpacked");
    }
    const std::string& rel = *normalized;
    if (rel.empty()) {
        if (e.type == TarEntry::Type::directory) {
            set_owner(-1, m_root_fd, ".", e, ".");
            m_deferred[""] = DirMeta{e.mode, e.mtime, e.mtime_nsec};
        }
        return;
    }
    auto [dir, base] = split(rel);
    if (base.starts_with(k_whiteout)) {
        ++m_stats.whiteouts;
        if (base == k_opaque) {
            // Everything in `dir` not written by this layer goes.
            int pfd = dir_fd(dir, e.path);
            std::vector<std::string> names;
            int copy = ::openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            DIR* d = copy < 0 ? nullptr : ::fdopendir(copy);
            if (d == nullptr) {
                fail("read directory", dir, errno);
            }
            while (dirent* de = ::readdir(d)) {
                std::string_view n = de->d_name;
                if (n != "." && n != ".." && !m_layer_paths.contains(join(dir, n))) {
                    names.emplace_back(n);
                }
            }
            ::closedir(d);
            for (const auto& n : names) {
                remove_child(dir_fd(dir, e.path), n, join(dir, n));
            }
        } else if (!base.starts_with(".wh..wh.")) {
            std::string victim = base.substr(k_whiteout.size());
            remove_child(dir_fd(dir, e.path), victim, join(dir, victim));
        }
        return;
    }
    m_layer_paths.insert(rel);
    int pfd = dir_fd(dir, e.path);
    switch (e.type) {
        case TarEntry::Type::directory: {
            if (::mkdirat(pfd, base.c_str(), 0700) != 0) {
                int err = errno;
                struct stat st {};
                if (err != EEXIST) {
                    fail("create directory", rel, err);
                }
                if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                    !S_ISDIR(st.st_mode)) {
                    remove_child(pfd, base, rel);
                    pfd = dir_fd(dir, e.path);
                    if (::mkdirat(pfd, base.c_str(), 0700) != 0) {
                        fail("create directory", rel, errno);
                    }
                }
            }
            set_owner(-1, pfd, base, e, rel);
            if (!e.xattrs.empty()) {
                Fd fd(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (fd.get() < 0) {
                    fail("open directory", rel, errno);
                }
                set_xattrs(fd.get(), -1, base, e, rel);
            }
            m_deferred[rel] = DirMeta{e.mode, e.mtime, e.mtime_nsec};
            break;
        }
        case TarEntry::Type::file:
            write_file(pfd, base, rel, e, data);
            break;
        case TarEntry::Type::symlink: {
            if (::symlinkat(e.link_target.c_str(), pfd, base.c_str()) != 0) {
                if (errno != EEXIST) {
                    fail("create symbolic link", rel, errno);
                }
                remove_child(pfd, base, rel);
                pfd = dir_fd(dir, e.path);
                if (::symlinkat(e.link_target.c_str(), pfd, base.c_str()) != 0) {
                    fail("create symbolic link", rel, errno);
                }
            }
            if (e.uid != ::geteuid() || e.gid != ::getegid()) {
                set_owner(-1, pfd, base, e, rel);
            }
            set_xattrs(-1, pfd, base, e, rel);
            timespec ts[2] = {{e.mtime, e.mtime_nsec}, {e.mtime, e.mtime_nsec}};
            ::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW);
            break;
        }
        case TarEntry::Type::hardlink: {
            auto target = safe_relative_path(e.link_target);
            if (!target || target->empty() || e.link_target.front() == '/') {
                throw Error(fmt::format("unpack layer {}: hard link `{}` points outside the root "
                                        "(`{}`); refused",
                                        m_layer, e.path, e.link_target),
                            "the layer is malformed or hostile; nothing was unpacked");
            }
            if (*target == rel) {
                break;
            }
            auto [tdir, tbase] = split(*target);
            auto resolve_target = [&]() {
                int tfd = dir_fd(tdir, e.path);
                struct stat st {};
                if (::fstatat(tfd, tbase.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                    S_ISDIR(st.st_mode)) {
                    throw Error(fmt::format("unpack layer {}: hard link `{}` points at `{}`, "
                                            "which is not a file in the tree",
                                            m_layer, e.path, e.link_target),
                                "the layer is malformed");
                }
                return tfd;
            };
            resolve_target();
            remove_child(pfd, base, rel);
            pfd = dir_fd(dir, e.path);
            int tfd = resolve_target();
            if (::linkat(tfd, tbase.c_str(), pfd, base.c_str(), 0) != 0) {
                fail("create hard link", rel, errno);
            }
            break;
        }
        case TarEntry::Type::char_device:
        case TarEntry::Type::block_device:
        case TarEntry::Type::fifo:
        case TarEntry::Type::other:
            ++m_stats.skipped;
            if (m_layer_skipped++ == 0) {
                m_first_skipped = rel;
            }
            break;
    }
}

void TreeWriter::finish() {
    std::vector<std::pair<std::string, DirMeta>> dirs(m_deferred.begin(), m_deferred.end());
    auto depth = [](const std::string& p) {
        return p.empty() ? -1 : static_cast<int>(std::count(p.begin(), p.end(), '/'));
    };
    std::stable_sort(dirs.begin(), dirs.end(),
                     [&](const auto& a, const auto& b) { return depth(a.first) > depth(b.first); });
    for (const auto& [rel, meta] : dirs) {
        timespec ts[2] = {{meta.mtime, meta.mtime_nsec}, {meta.mtime, meta.mtime_nsec}};
        if (rel.empty()) {
            if (::fchmod(m_root_fd, meta.mode & 07777) != 0) {
                fail("set the mode of", ".", errno);
            }
            ::futimens(m_root_fd, ts);
            continue;
        }
        auto [dir, base] = split(rel);
        int pfd = dir_fd(dir, rel);
        struct stat st {};
        if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
            continue;  // replaced since; its new self carries no directory entry
        }
        if (::fchmodat(pfd, base.c_str(), meta.mode & 07777, 0) != 0) {
            fail("set the mode of", rel, errno);
        }
        ::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    }
    for (auto& [r, f] : m_dirs) {
        ::close(f);
    }
    m_dirs.clear();
}

}  // namespace envpack::detail
