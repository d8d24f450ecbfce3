#include "builder/detail/snapshot_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

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

struct Node;

struct Child {
    std::string name;
    SnapshotEntryType type = SnapshotEntryType::file;
    bool executable = false;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::string link_target;
    std::unique_ptr<Node> dir;
};

struct Node {
    std::vector<Child> children;  // in the bytewise order of their full paths
};

struct Job {
    std::shared_ptr<DirHandle> parent;  // null for the root
    std::string name;                   // within the parent
    std::string path;                   // relative to the root, "" for the root
    Node* node = nullptr;
    IgnoreStack ignores;                // the files of the directories above
};

// A directory's entries sort as name + "/" so that walking the tree in child order gives the
// paths in bytewise order ("a-b" < "a/x" < "a0").
int key_char(const Child& c, size_t i) {
    if (i < c.name.size()) {
        return static_cast<unsigned char>(c.name[i]);
    }
    return i == c.name.size() && c.type == SnapshotEntryType::directory ? '/' : -1;
}

bool key_less(const Child& a, const Child& b) {
    size_t n = std::min(a.name.size(), b.name.size());
    if (int c = std::memcmp(a.name.data(), b.name.data(), n); c != 0) {
        return c < 0;
    }
    for (size_t i = n;; ++i) {
        int ca = key_char(a, i);
        int cb = key_char(b, i);
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

    SnapshotListing run(unsigned threads) {
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
        SnapshotListing listing;
        listing.root = m_root;
        flatten(m_top, "", listing);
        return listing;
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

    std::shared_ptr<const IgnoreFile> read_ignore_file(int dirfd, const char* name,
                                                       const std::string& rel) {
        int fd = ::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) {
                return nullptr;
            }
            if (errno == ELOOP) {
                throw bad_input(fmt::format("ignore file `{}` is a symbolic link", display(rel)),
                                "envpack, like git, does not follow symbolic links to ignore "
                                "files: replace it with a regular file");
            }
            throw_errno("read ignore file", display(rel), errno);
        }
        struct Closer {
            int fd;
            ~Closer() { ::close(fd); }
        } closer{fd};
        struct stat st{};
        if (::fstat(fd, &st) != 0) {
            throw_errno("stat ignore file", display(rel), errno);
        }
        if (!S_ISREG(st.st_mode)) {
            throw bad_input(fmt::format("ignore file `{}` is not a regular file", display(rel)),
                            "remove it or replace it with a regular file");
        }
        if (static_cast<std::uint64_t>(st.st_size) > k_snapshot_max_ignore_file_bytes) {
            throw bad_input(fmt::format("ignore file `{}` is {} bytes, more than the limit of {} "
                                        "bytes (100 MiB)",
                                        display(rel), st.st_size, k_snapshot_max_ignore_file_bytes),
                            "git ignores such files entirely; shorten it");
        }
        std::string contents;
        contents.resize(static_cast<size_t>(st.st_size));
        size_t got = 0;
        while (true) {
            if (got == contents.size()) {
                contents.resize(contents.size() + 4096);
            }
            ssize_t n = ::read(fd, contents.data() + got, contents.size() - got);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                throw_errno("read ignore file", display(rel), errno);
            }
            if (n == 0) {
                break;
            }
            got += static_cast<size_t>(n);
        }
        contents.resize(got);
        return std::make_shared<const IgnoreFile>(IgnoreFile::parse(contents));
    }

    void process(Job job) {
        std::shared_ptr<DirHandle> handle = open_dir(job);
        job.parent.reset();
        if (!handle) {
            return;
        }
        struct Raw {
            std::string name;
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
            raw.push_back(Raw{n, d->d_type});
        }
        IgnoreStack ignores = job.ignores;
        if (has_aml || has_git) {
            const char* name = has_aml ? ".amlignore" : ".gitignore";
            if (auto file = read_ignore_file(handle->fd(), name, join(job.path, name))) {
                ignores = ignores.push(job.path, std::move(file));
            }
        }
        auto& children = job.node->children;
        children.reserve(raw.size());
        std::string full;
        for (auto& r : raw) {
            full = join(job.path, r.name);
            mode_t type = mode_of_dtype(r.type);
            struct stat st{};
            bool need_stat = type == 0 || (m_detail == WalkDetail::full && type != S_IFDIR);
            if (need_stat) {
                if (::fstatat(handle->fd(), r.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
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
            Child c;
            if (is_dir) {
                c.type = SnapshotEntryType::directory;
                c.dir = std::make_unique<Node>();
            } else if (type == S_IFREG) {
                c.type = SnapshotEntryType::file;
                if (need_stat) {
                    c.size = static_cast<std::uint64_t>(st.st_size);
                    c.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
                    c.executable = (st.st_mode & 0111) != 0;
                }
            } else if (type == S_IFLNK) {
                c.type = SnapshotEntryType::symlink;
                if (m_detail == WalkDetail::full) {
                    c.link_target = read_link(handle->fd(), r.name, full,
                                              need_stat ? static_cast<size_t>(st.st_size) : 0);
                }
            } else {
                m_log.warnf("skipping {} `{}`: sockets, fifos and devices are not part of a snapshot",
                            special_kind(type), display(full));
                continue;
            }
            c.name = std::move(r.name);
            children.push_back(std::move(c));
        }
        std::sort(children.begin(), children.end(), key_less);
        std::vector<Job> subdirs;
        for (auto& c : children) {
            if (c.dir) {
                subdirs.push_back(Job{handle, c.name, join(job.path, c.name), c.dir.get(), ignores});
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

    std::string read_link(int dirfd, const std::string& name, const std::string& rel, size_t hint) {
        std::string target(hint > 0 ? hint + 1 : 256, '\0');
        while (true) {
            ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
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

    static void flatten(const Node& node, const std::string& prefix, SnapshotListing& out) {
        for (const auto& c : node.children) {
            SnapshotEntry e;
            e.path = join(prefix, c.name);
            e.type = c.type;
            e.executable = c.executable;
            e.size = c.size;
            e.mtime_ns = c.mtime_ns;
            e.link_target = c.link_target;
            if (c.type != SnapshotEntryType::directory) {
                ++out.files;
                out.bytes += c.size;
            }
            std::string path = c.dir ? e.path : std::string();
            out.entries.push_back(std::move(e));
            if (c.dir) {
                flatten(*c.dir, path, out);
            }
        }
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
    return walker.run(threads);
}

}  // namespace envpack::detail
