// Private to launcher/: writes all of a buffer to a file descriptor (the hosts backend's pipes).
#pragma once

#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "core/error.h"

namespace envpack::detail {

// Retries short writes and EINTR; throws Error naming `what` on any other failure (EPIPE when
// the reader is gone: callers ignore SIGPIPE).
inline void write_all(int fd, std::string_view bytes, std::string_view what) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw_errno("write", std::string(what), errno);
        }
        bytes.remove_prefix(static_cast<size_t>(n));
    }
}

}  // namespace envpack::detail
