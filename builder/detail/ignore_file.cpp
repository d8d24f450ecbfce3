// Reading one ignore file the way the snapshot rules want it: never through a symbolic link,
// regular files only, at most k_snapshot_max_ignore_file_bytes.
#include "builder/detail/ignore_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "builder/snapshot.h"
#include "core/error.h"

namespace envpack::detail {

std::shared_ptr<const IgnoreFile> read_ignore_file(int dirfd, const char* name,
                                                   const std::string& shown) {
    int fd = ::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return nullptr;
        }
        if (errno == ELOOP) {
            throw bad_input(fmt::format("ignore file `{}` is a symbolic link", shown),
                            "envpack, like git, does not follow symbolic links to ignore "
                            "files: replace it with a regular file");
        }
        throw_errno("read ignore file", shown, errno);
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        throw_errno("stat ignore file", shown, errno);
    }
    if (!S_ISREG(st.st_mode)) {
        throw bad_input(fmt::format("ignore file `{}` is not a regular file", shown),
                        "remove it or replace it with a regular file");
    }
    if (static_cast<std::uint64_t>(st.st_size) > k_snapshot_max_ignore_file_bytes) {
        throw bad_input(fmt::format("ignore file `{}` is {} bytes, more than the limit of {} "
                                    "bytes (100 MiB)",
                                    shown, st.st_size, k_snapshot_max_ignore_file_bytes),
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
            throw_errno("read ignore file", shown, errno);
        }
        if (n == 0) {
            break;
        }
        got += static_cast<size_t>(n);
    }
    contents.resize(got);
    return std::make_shared<const IgnoreFile>(IgnoreFile::parse(contents));
}

}  // namespace envpack::detail
