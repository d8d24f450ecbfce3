#include "core/signals.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack {

namespace {

// The handler's only state: where to queue a signal. A signal handler cannot reach an object,
// so this one int is process-wide, like the dispositions it stands for.
std::atomic<int> g_queue_fd{-1};

extern "C" void queue_signal(int sig) {
    int saved = errno;
    int fd = g_queue_fd.load();
    if (fd >= 0) {
        unsigned char byte = static_cast<unsigned char>(sig);
        [[maybe_unused]] ssize_t n = ::write(fd, &byte, 1);
    }
    errno = saved;
}

}  // namespace

std::vector<int> SignalForwarder::default_signals() {
    return {SIGINT, SIGTERM, SIGHUP};
}

SignalForwarder::SignalForwarder(std::vector<int> signals) : m_signals(std::move(signals)) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        throw_errno("signal forwarding: pipe", "", errno);
    }
    int expected = -1;
    if (!g_queue_fd.compare_exchange_strong(expected, fds[1])) {
        ::close(fds[0]);
        ::close(fds[1]);
        throw Error("signal forwarding: another SignalForwarder is already installed");
    }
    m_read_fd = fds[0];
    m_write_fd = fds[1];
    struct sigaction sa {};
    sa.sa_handler = queue_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    m_saved.resize(m_signals.size());
    for (std::size_t i = 0; i < m_signals.size(); ++i) {
        ::sigaction(m_signals[i], &sa, &m_saved[i]);
    }
}

SignalForwarder::~SignalForwarder() {
    for (std::size_t i = 0; i < m_signals.size(); ++i) {
        ::sigaction(m_signals[i], &m_saved[i], nullptr);
    }
    g_queue_fd.store(-1);
    ::close(m_read_fd);
    ::close(m_write_fd);
}

std::optional<int> SignalForwarder::take() {
    unsigned char byte = 0;
    for (;;) {
        ssize_t n = ::read(m_read_fd, &byte, 1);
        if (n == 1) {
            return static_cast<int>(byte);
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return std::nullopt;
    }
}

std::string signal_name(int sig) {
    if (const char* abbrev = ::sigabbrev_np(sig)) {
        return fmt::format("SIG{}", abbrev);
    }
    return fmt::format("signal {}", sig);
}

}  // namespace envpack
