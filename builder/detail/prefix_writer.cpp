#include "builder/detail/prefix_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack::wheel_install::detail {
namespace fs = std::filesystem;
namespace {

mode_t process_umask() {
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

class FileSink : public Sink {
  public:
    FileSink(int fd, fs::path path) : m_fd(fd), m_path(std::move(path)) {}
    void write(const void* data, size_t size) override {
        write_all(m_fd.get(), data, size, m_path.native());
    }
    using Sink::write;

  private:
    UniqueFd m_fd;
    fs::path m_path;
};

// Opens with a fixed mode: open() applied the umask, put back what it took.
int open_with_mode(const fs::path& path, int flags, mode_t mode) {
    int fd = ::open(path.c_str(), flags | O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0) {
        return -1;
    }
    if ((mode & ~process_umask()) != mode && ::fchmod(fd, mode) != 0) {
        int err = errno;
        ::close(fd);
        throw_errno("chmod", path.native(), err);
    }
    return fd;
}

fs::path temp_beside(const fs::path& target) {
    static std::atomic<unsigned long> counter{0};
    return target.parent_path() / fmt::format(".{}.envpack-{}-{}", target.filename().native(),
                                              ::getpid(), counter.fetch_add(1));
}

}  // namespace

PrefixWriter::PrefixWriter(fs::path prefix) : m_prefix(std::move(prefix)) {}

PrefixWriter::~PrefixWriter() {
    if (!m_committed) {
        rollback();
    }
}

void PrefixWriter::ensure_dir(const fs::path& dir) {
    if (m_dirs_known.contains(dir.native())) {
        return;
    }
    // mkdir first, the parent only when it is missing: one call for a new directory whose parent
    // exists, none for a known one.
    if (::mkdir(dir.c_str(), 0777) == 0) {
        m_dirs_made.push_back(dir);
    } else if (errno == ENOENT && dir.has_parent_path() && dir.parent_path() != dir) {
        ensure_dir(dir.parent_path());
        if (::mkdir(dir.c_str(), 0777) == 0) {
            m_dirs_made.push_back(dir);
        } else if (errno != EEXIST) {
            throw_errno("create directory", dir.native(), errno);
        }
    } else if (errno != EEXIST) {
        throw_errno("create directory", dir.native(), errno);
    }
    // EEXIST with a file there: the open below fails with ENOTDIR and names the path.
    m_dirs_known.insert(dir.native());
}

std::unique_ptr<Sink> PrefixWriter::open(const std::string& dest, mode_t mode) {
    if (auto again = m_written.find(dest); again != m_written.end()) {
        int fd = open_with_mode(again->second, O_TRUNC, mode);
        if (fd < 0) {
            throw_errno("open", again->second.native(), errno);
        }
        return std::make_unique<FileSink>(fd, again->second);
    }
    const fs::path target = m_prefix / dest;
    ensure_dir(target.parent_path());
    int fd = open_with_mode(target, O_CREAT | O_EXCL, mode);
    if (fd >= 0) {
        m_created.push_back(target);
        m_written.emplace(dest, target);
        return std::make_unique<FileSink>(fd, target);
    }
    if (errno != EEXIST) {
        throw_errno("create", target.native(), errno);
    }
    struct stat st {};
    if (::lstat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        throw Error(ErrorKind::conflict,
                    fmt::format("install `{}`: a directory is in the way", target.string()));
    }
    const fs::path temp = temp_beside(target);
    fd = open_with_mode(temp, O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        throw_errno("create", temp.native(), errno);
    }
    m_replacements.push_back({temp, target});
    m_written.emplace(dest, temp);
    return std::make_unique<FileSink>(fd, temp);
}

void PrefixWriter::commit() {
    for (const auto& r : m_replacements) {
        if (::rename(r.temp.c_str(), r.target.c_str()) != 0) {
            throw_errno("rename", r.temp.string() + " -> " + r.target.string(), errno);
        }
    }
    m_committed = true;
}

void PrefixWriter::rollback() noexcept {
    for (const auto& r : m_replacements) {
        (void)::unlink(r.temp.c_str());  // already renamed (commit failed half-way): ENOENT
    }
    for (auto it = m_created.rbegin(); it != m_created.rend(); ++it) {
        (void)::unlink(it->c_str());
    }
    // Made parents before children: undone in reverse, deepest first. A directory another
    // install filled meanwhile stays (ENOTEMPTY).
    for (auto it = m_dirs_made.rbegin(); it != m_dirs_made.rend(); ++it) {
        (void)::rmdir(it->c_str());
    }
}

}  // namespace envpack::wheel_install::detail
