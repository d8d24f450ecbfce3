#include "resolver/detail/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

void MappedFile::release(std::size_t begin, std::size_t end) {
    std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::size_t first = (begin + page - 1) / page * page;
    std::size_t last = std::min(end, m_size) / page * page;
    if (m_data != nullptr && last > first) {
        ::madvise(const_cast<char*>(m_data) + first, last - first, MADV_DONTNEED);
    }
}

}  // namespace envpack::detail
