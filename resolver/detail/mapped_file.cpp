#include "resolver/detail/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.h"

namespace envpack::detail {

MappedFile::MappedFile(const std::filesystem::path& path) {
    m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (m_fd < 0) {
        throw_errno("open repodata", path.string(), errno);
    }
    struct stat st {};
    if (::fstat(m_fd, &st) != 0) {
        int err = errno;
        ::close(m_fd);
        throw_errno("stat repodata", path.string(), err);
    }
    m_size = static_cast<std::size_t>(st.st_size);
    if (m_size > 0) {
        void* p = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, m_fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            ::close(m_fd);
            throw_errno("map repodata", path.string(), err);
        }
        m_data = static_cast<const char*>(p);
        ::madvise(p, m_size, MADV_SEQUENTIAL);
    }
}

MappedFile::~MappedFile() {
    if (m_data != nullptr) {
        ::munmap(const_cast<char*>(m_data), m_size);
    }
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

void MappedFile::release_before(std::size_t offset) {
    std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::size_t len = offset / page * page;
    if (m_data != nullptr && len > 0) {
        ::madvise(const_cast<char*>(m_data), len, MADV_DONTNEED);
    }
}

}  // namespace envpack::detail
