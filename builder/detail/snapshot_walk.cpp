#include "builder/detail/snapshot_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "builder/detail/ignore_file.h"
#include "builder/ignore.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace envpack::detail {
namespace {

// An open directory: its DIR stream and the fd that openat/fstatat use. Shared by the jobs of
// its subdirectories, which open themselves relative to it (so no path is resolved twice and no
// symlink swapped in above them is followed).
class DirHandle {
  public:
    explicit DirHandle(DIR* dir) : m_dir(dir) {}
    ~DirHandle() { ::closedir(m_dir); }
    DirHandle(const DirHandle&) = delete;
    DirHandle& operator=(const DirHandle&) = delete;
    DIR* dir() const { return m_dir; }
    int fd() const { return ::dirfd(m_dir); }

  private:
    DIR* m_dir;
};

// One directory's included entries, compactly: names live in one buffer per directory (each
// followed by a NUL, so openat can use them in place), entries are small records into it.
struct Child {
    std::uint32_t name_offset = 0;
    std::uint32_t name_size = 0;
    SnapshotEntryType type = SnapshotEntryType::file;
    bool executable = false;
    std::uint32_t index =
        0;  // directories: into Node::subdirs; others (full walks): into Node::info
};

struct Info {
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::string link_target;
};

struct Node {
    std::string names;
    std::vector<Child> children;  // in the bytewise order of their full paths
    std::vector<std::unique_ptr<Node>> subdirs;
    std::vector<Info> info;
    std::string_view name(const Child& c) const {
        return {names.data() + c.name_offset, c.name_size};
    }
};

struct Job {
    std::shared_ptr<DirHandle> parent;  // null for the root
    std::string name;                   // within the parent
    std::string path;                   // relative to the root, "" for the root
    Node* node = nullptr;
    IgnoreStack ignores;  // the files of the directories above
};

// A directory's entries sort as name + "/" so that walking the tree in child order gives the
// paths in bytewise order ("a-b" < "a/x" < "a0").
int key_char(std::string_view name, bool is_dir, size_t i) {
    if (i < name.size()) {
        return static_cast<unsigned char>(name[i]);
    }
    return i == name.size() && is_dir ? '/' : -1;
}

bool key_less(std::string_view a, bool a_dir, std::string_view b, bool b_dir) {
    size_t n = std::min(a.size(), b.size());
    if (int c = std::memcmp(a.data(), b.data(), n); c != 0) {
        return c < 0;
    }
    for (size_t i = n;; ++i) {
        int ca = key_char(a, a_dir, i);
        int cb = key_char(b, b_dir, i);
        if (ca != cb || ca < 0) {
            return ca < cb;
        }
    }
}

std::string join(const std::string& dir, std::string_view name) {
    if (dir.empty()) {
        return std::string(name);
    }
    std::string s;
    s.reserve(dir.size() + 1 + name.size());
    s += dir;
    s += '/';
    s += name;
    return s;
}

const char* special_kind(mode_t mode) {
    if (S_ISSOCK(mode)) {
        return "socket";
    }
    if (S_ISFIFO(mode)) {
        return "fifo";
    }
    if (S_ISCHR(mode)) {
        return "character device";
    }
    if (S_ISBLK(mode)) {
        return "block device";
    }
    return "special file";
}

mode_t mode_of_dtype(unsigned char t) {
    switch (t) {
        case DT_REG:
            return S_IFREG;
        case DT_DIR:
            return S_IFDIR;
        case DT_LNK:
            return S_IFLNK;
        case DT_SOCK:
            return S_IFSOCK;
        case DT_FIFO:
            return S_IFIFO;
        case DT_CHR:
            return S_IFCHR;
        case DT_BLK:
            return S_IFBLK;
        default:
            return 0;
    }
}

class Walker {
  public:
    Walker(std::filesystem::path root, Log& log, WalkDetail detail)
        : m_root(std::move(root)), m_log(log), m_detail(detail) {}

    void run(unsigned threads) {
        m_jobs.push_back(Job{nullptr, "", "", &m_top, IgnoreStack{}});
        if (threads <= 1) {
            work();
        } else {
            ThreadPool pool(threads);
            std::vector<std::future<void>> done;
            for (unsigned i = 0; i < threads; ++i) {
                done.push_back(pool.submit([this] { work(); }));
            }
            for (auto& f : done) {
                f.get();
            }
        }
        if (m_error) {
            std::rethrow_exception(m_error);
        }
    }

    SnapshotListing listing() {
        SnapshotListing listing;
        listing.root = m_root;
        listing.entries.reserve(count(m_top));
        flatten(m_top, "", listing);
        return listing;
    }

    void for_each_path(const std::function<void(std::string_view)>& emit) const {
        std::string path;
        emit_paths(m_top, path, emit);
    }

  private:
    std::string display(const std::string& rel) const {
        return rel.empty() ? m_root.string() : (m_root / rel).string();
    }

    void work() {
        while (true) {
            Job job;
            {
                std::unique_lock lock(m_mutex);
                m_cv.wait(lock, [&] { return m_error || !m_jobs.empty() || m_active == 0; });
                if (m_error || m_jobs.empty()) {
                    return;
                }
                job = std::move(m_jobs.back());
                m_jobs.pop_back();
                ++m_active;
            }
            std::exception_ptr error;
            try {
                process(std::move(job));
            } catch (...) {
                error = std::current_exception();
            }
            std::lock_guard lock(m_mutex);
            if (error && !m_error) {
                m_error = error;
            }
            if (--m_active == 0 || m_error) {
                m_cv.notify_all();
            }
        }
    }

    std::shared_ptr<DirHandle> open_dir(const Job& job) {
        int fd = job.parent ? ::openat(job.parent->fd(), job.name.c_str(),
                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                            : ::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT && job.parent) {
                return nullptr;  // removed while we walked
            }
            throw_errno("open directory", display(job.path), errno,
                        "make it readable, or exclude it in an .amlignore or .gitignore file");
        }
        DIR* dir = ::fdopendir(fd);
        if (dir == nullptr) {
            int err = errno;
            ::close(fd);
            throw_errno("open directory", display(job.path), err);
        }
        return std::make_shared<DirHandle>(dir);
    }

    void process(Job job) {
        std::shared_ptr<DirHandle> handle = open_dir(job);
        job.parent.reset();
        if (!handle) {
            return;
        }
        Node& node = *job.node;
        struct Raw {
            std::uint32_t offset;
            std::uint32_t size;
            unsigned char type;
        };
        std::vector<Raw> raw;
        bool has_aml = false;
        bool has_git = false;
        while (true) {
            errno = 0;
            dirent* d = ::readdir(handle->dir());
            if (d == nullptr) {
                if (errno != 0) {
                    throw_errno("read directory", display(job.path), errno);
                }
                break;
            }
            const char* n = d->d_name;
            if ((n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) ||
                std::strcmp(n, ".git") == 0) {
                continue;
            }
            has_aml = has_aml || std::strcmp(n, ".amlignore") == 0;
            has_git = has_git || std::strcmp(n, ".gitignore") == 0;
            size_t len = std::strlen(n);
            raw.push_back(Raw{static_cast<std::uint32_t>(node.names.size()),
                              static_cast<std::uint32_t>(len), d->d_type});
            node.names.append(n, len + 1);
        }
        IgnoreStack ignores = job.ignores;
        if (has_aml || has_git) {
            const char* name = has_aml ? ".amlignore" : ".gitignore";
            if (auto file = read_ignore_file(handle->fd(), name, display(join(job.path, name)))) {
                ignores = ignores.push(job.path, std::move(file));
            }
        }
        node.children.reserve(raw.size());
        std::string full;
        for (const auto& r : raw) {
            const char* name = node.names.data() + r.offset;
            full.assign(job.path);
            if (!full.empty()) {
                full += '/';
            }
            full.append(name, r.size);
            mode_t type = mode_of_dtype(r.type);
            struct stat st {};
            bool need_stat = type == 0 || (m_detail == WalkDetail::full && type != S_IFDIR);
            if (need_stat) {
                if (::fstatat(handle->fd(), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                    if (errno == ENOENT) {
                        continue;  // removed while we walked
                    }
                    throw_errno("stat", display(full), errno);
                }
                type = st.st_mode & S_IFMT;
            }
            bool is_dir = type == S_IFDIR;
            if (ignores.excluded(full, is_dir ? PathKind::directory : PathKind::file)) {
                continue;
            }
            Child c{r.offset, r.size, SnapshotEntryType::file, false, 0};
            if (is_dir) {
                c.type = SnapshotEntryType::directory;
                c.index = static_cast<std::uint32_t>(node.subdirs.size());
                node.subdirs.push_back(std::make_unique<Node>());
            } else if (type == S_IFREG || type == S_IFLNK) {
                c.type = type == S_IFREG ? SnapshotEntryType::file : SnapshotEntryType::symlink;
                if (m_detail == WalkDetail::full) {
                    Info info;
                    if (type == S_IFREG) {
                        info.size = static_cast<std::uint64_t>(st.st_size);
                        info.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                                        st.st_mtim.tv_nsec;
                        c.executable = (st.st_mode & 0111) != 0;
                    } else {
                        info.link_target =
                            read_link(handle->fd(), name, full, static_cast<size_t>(st.st_size));
                    }
                    c.index = static_cast<std::uint32_t>(node.info.size());
                    node.info.push_back(std::move(info));
                }
            } else {
                m_log.warnf(
                    "skipping {} `{}`: sockets, fifos and devices are not part of a snapshot",
                    special_kind(type), display(full));
                continue;
            }
            node.children.push_back(c);
        }
        std::sort(node.children.begin(), node.children.end(), [&](const Child& a, const Child& b) {
            return key_less(node.name(a), a.type == SnapshotEntryType::directory, node.name(b),
                            b.type == SnapshotEntryType::directory);
        });
        std::vector<Job> subdirs;
        for (const auto& c : node.children) {
            if (c.type == SnapshotEntryType::directory) {
                std::string name(node.name(c));
                subdirs.push_back(
                    Job{handle, name, join(job.path, name), node.subdirs[c.index].get(), ignores});
            }
        }
        if (!subdirs.empty()) {
            std::lock_guard lock(m_mutex);
            // Deepest first (LIFO) keeps few directories open at a time.
            for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) {
                m_jobs.push_back(std::move(*it));
            }
            m_cv.notify_all();
        }
    }

    std::string read_link(int dirfd, const char* name, const std::string& rel, size_t hint) {
        std::string target(hint > 0 ? hint + 1 : 256, '\0');
        while (true) {
            ssize_t n = ::readlinkat(dirfd, name, target.data(), target.size());
            if (n < 0) {
                throw_errno("read symbolic link", display(rel), errno);
            }
            if (static_cast<size_t>(n) < target.size()) {
                target.resize(static_cast<size_t>(n));
                return target;
            }
            target.resize(target.size() * 2);
        }
    }

    static size_t count(const Node& node) {
        size_t n = node.children.size();
        for (const auto& sub : node.subdirs) {
            n += count(*sub);
        }
        return n;
    }

    static void flatten(Node& node, const std::string& prefix, SnapshotListing& out) {
        for (const auto& c : node.children) {
            SnapshotEntry e;
            e.path = join(prefix, node.name(c));
            e.type = c.type;
            e.executable = c.executable;
            if (c.type == SnapshotEntryType::directory) {
                std::string path = e.path;
                out.entries.push_back(std::move(e));
                flatten(*node.subdirs[c.index], path, out);
                continue;
            }
            if (!node.info.empty()) {
                Info& info = node.info[c.index];
                e.size = info.size;
                e.mtime_ns = info.mtime_ns;
                e.link_target = std::move(info.link_target);
            }
            ++out.files;
            out.bytes += e.size;
            out.entries.push_back(std::move(e));
        }
    }

    static void emit_paths(const Node& node, std::string& path,
                           const std::function<void(std::string_view)>& emit) {
        size_t base = path.size();
        for (const auto& c : node.children) {
            path.resize(base);
            if (base != 0) {
                path += '/';
            }
            path += node.name(c);
            if (c.type == SnapshotEntryType::directory) {
                emit_paths(*node.subdirs[c.index], path, emit);
            } else {
                emit(path);
            }
        }
        path.resize(base);
    }

    std::filesystem::path m_root;
    Log& m_log;
    WalkDetail m_detail;
    Node m_top;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::vector<Job> m_jobs;
    size_t m_active = 0;
    std::exception_ptr m_error;
};

}  // namespace

SnapshotListing walk_tree(const std::filesystem::path& root, Log& log, unsigned threads,
                          WalkDetail detail) {
    Walker walker(root, log, detail);
    walker.run(threads);
    return walker.listing();
}

void walk_paths(const std::filesystem::path& root, Log& log, unsigned threads,
                const std::function<void(std::string_view)>& emit) {
    Walker walker(root, log, WalkDetail::names);
    walker.run(threads);
    walker.for_each_path(emit);
}

}  // namespace envpack::detail
