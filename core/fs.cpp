#include "core/fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack {

UniqueFd::~UniqueFd() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw_errno("open", path.string(), errno);
    }
    std::string out;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        out.reserve(static_cast<size_t>(st.st_size));
    }
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int err = errno;
            ::close(fd);
            throw_errno("read", path.string(), err);
        }
        if (n == 0) {
            break;
        }
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

static std::string random_suffix() {
    static thread_local std::mt19937_64 rng{std::random_device{}() ^
                                            static_cast<std::uint64_t>(::getpid())};
    return fmt::format("{:016x}", rng());
}

AtomicFile::AtomicFile(fs::path target, Durability durability, int mode)
    : m_target(std::move(target)), m_durability(durability) {
    fs::path dir = m_target.parent_path();
    if (dir.empty()) {
        dir = ".";
    }
    m_temp = dir / fmt::format(".tmp-{}-{}", m_target.filename().string(), random_suffix());
    m_fd = ::open(m_temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (m_fd < 0) {
        throw_errno("create", m_temp.string(), errno);
    }
}

AtomicFile::~AtomicFile() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
    if (!m_committed) {
        ::unlink(m_temp.c_str());
    }
}

void write_all(int fd, const void* data, size_t size, std::string_view name) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("write", name, errno,
                        errno == ENOSPC ? "free some disk space and try again" : "");
        }
        p += n;
        size -= static_cast<size_t>(n);
    }
}

void AtomicFile::write(const void* data, size_t size) {
    write_all(m_fd, data, size, m_temp.string());
    m_written += size;
}

void AtomicFile::commit() {
    if (m_durability == Durability::fsync && ::fsync(m_fd) != 0) {
        throw_errno("fsync", m_temp.string(), errno);
    }
    if (::close(m_fd) != 0) {
        m_fd = -1;
        throw_errno("close", m_temp.string(), errno);
    }
    m_fd = -1;
    if (::rename(m_temp.c_str(), m_target.c_str()) != 0) {
        throw_errno("rename to", m_target.string(), errno);
    }
    m_committed = true;
    if (m_durability == Durability::fsync) {
        fsync_dir(m_target.parent_path().empty() ? fs::path(".") : m_target.parent_path());
    }
}

void write_file_atomic(const fs::path& path, std::string_view data, Durability durability) {
    AtomicFile f(path, durability);
    f.write(data);
    f.commit();
}

void fsync_dir(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

FileLock::FileLock(const fs::path& path, LockMode mode) {
    m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m_fd < 0) {
        throw_errno("open lock file", path.string(), errno);
    }
    int op = mode == LockMode::exclusive ? LOCK_EX : LOCK_SH;
    while (::flock(m_fd, op) != 0) {
        if (errno != EINTR) {
            int err = errno;
            ::close(m_fd);
            m_fd = -1;
            throw_errno("lock", path.string(), err);
        }
    }
}

FileLock::~FileLock() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

TempDir::TempDir(std::string_view prefix, fs::path parent) {
    if (parent.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    }
    std::string templ = (parent / (std::string(prefix) + "XXXXXX")).string();
    if (::mkdtemp(templ.data()) == nullptr) {
        throw_errno("create temporary directory in", parent.string(), errno);
    }
    m_path = templ;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
}

void make_dirs(const fs::path& path) {
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec) {
        throw Error(fmt::format("create directory `{}`: {}", path.string(), ec.message()));
    }
}

}  // namespace envpack

namespace envpack {
std::string read_file_head(const std::filesystem::path& path, size_t n) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw_errno("open", path.string(), errno);
    }
    std::string out(n, '\0');
    ssize_t got = ::read(fd, out.data(), n);
    int err = errno;
    ::close(fd);
    if (got < 0) {
        throw_errno("read", path.string(), err);
    }
    out.resize(static_cast<size_t>(got));
    return out;
}
}  // namespace envpack
