#include "core/detail/child_state.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cerrno>

namespace envpack::detail {

std::mutex& child_table_mutex() {
    static std::mutex mutex;
    return mutex;
}

std::set<pid_t>& child_table() {
    static std::set<pid_t> table;
    return table;
}

ssize_t write_no_sigpipe(int fd, const void* data, std::size_t size) {
    // Block SIGPIPE in this thread, write, and consume a SIGPIPE the write raised (unless one
    // was already pending before, which stays pending).
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigset_t pending;
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    ssize_t n = ::write(fd, data, size);
    int err = errno;
    if (n < 0 && err == EPIPE && !was_pending) {
        timespec zero{0, 0};
        while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = err;
    return n;
}

void OutputPipe::deliver(std::string_view bytes) {
    if (lines) {
        splitter.feed(bytes, lines);
    } else if (chunks) {
        chunks(bytes);
    }
}

void OutputPipe::finish() {
    fd.reset();
    if (lines) {
        splitter.finish(lines);
    }
}

bool OutputPipe::read_once() {
    if (!fd) {
        return false;
    }
    char buf[65536];
    ssize_t r = ::read(fd.get(), buf, sizeof buf);
    if (r > 0) {
        deliver(std::string_view(buf, static_cast<std::size_t>(r)));
        return true;
    }
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    finish();
    return false;
}

void OutputPipe::drain_and_finish() {
    if (!fd) {
        return;
    }
    // Only what is in the pipe now: a leftover process that keeps writing cannot hold us here.
    int available = 0;
    if (::ioctl(fd.get(), FIONREAD, &available) == 0) {
        char buf[65536];
        while (available > 0) {
            ssize_t r = ::read(fd.get(), buf, std::min<std::size_t>(sizeof buf, available));
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                break;
            }
            deliver(std::string_view(buf, static_cast<std::size_t>(r)));
            available -= static_cast<int>(r);
        }
    }
    finish();
}

void ChildState::write_stdin() {
    while (in_fd && in_off < in_data.size()) {
        ssize_t w = write_no_sigpipe(in_fd.get(), in_data.data() + in_off, in_data.size() - in_off);
        if (w > 0) {
            in_off += static_cast<std::size_t>(w);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            return;
        } else {
            break;  // the child closed its stdin: it does not want the rest
        }
    }
    in_fd.reset();
    in_data.clear();
}

bool ChildState::try_reap() {
    if (status || detached) {
        return false;
    }
    int st = 0;
    pid_t r;
    while ((r = ::waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == 0) {
        return false;
    }
    // r < 0 (ECHILD): someone else reaped it; the status is lost.
    status = r == pid ? ExitStatus::from_wait_status(st) : ExitStatus{-1, 0};
    out.drain_and_finish();
    err.drain_and_finish();
    in_fd.reset();
    pidfd.reset();
    std::lock_guard lock(child_table_mutex());
    child_table().erase(pid);
    return true;
}

void ChildState::close_pipes() {
    out.finish();
    err.finish();
    in_fd.reset();
}

PumpResult pump(const std::vector<ChildState*>& states, const std::vector<int>& watched,
                std::optional<std::chrono::steady_clock::time_point> deadline,
                std::optional<std::chrono::milliseconds> max_sleep) {
    PumpResult result;
    enum class Role { pidfd, in, out, err, watched };
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<std::pair<ChildState*, Role>> owners;
        for (ChildState* s : states) {
            if (!s->running()) {
                continue;
            }
            fds.push_back({s->pidfd.get(), POLLIN, 0});
            owners.emplace_back(s, Role::pidfd);
            if (s->in_fd) {
                fds.push_back({s->in_fd.get(), POLLOUT, 0});
                owners.emplace_back(s, Role::in);
            }
            if (s->out.fd) {
                fds.push_back({s->out.fd.get(), POLLIN, 0});
                owners.emplace_back(s, Role::out);
            }
            if (s->err.fd) {
                fds.push_back({s->err.fd.get(), POLLIN, 0});
                owners.emplace_back(s, Role::err);
            }
        }
        for (int fd : watched) {
            fds.push_back({fd, POLLIN, 0});
            owners.emplace_back(nullptr, Role::watched);
        }
        if (fds.empty()) {
            return result;
        }
        int timeout_ms = -1;
        auto now = std::chrono::steady_clock::now();
        if (deadline) {
            auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now).count();
            timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
        }
        if (max_sleep && (timeout_ms < 0 || timeout_ms > max_sleep->count())) {
            timeout_ms = static_cast<int>(max_sleep->count());
        }
        int n = ::poll(fds.data(), fds.size(), timeout_ms);
        if (n < 0 && errno != EINTR) {
            return result;
        }
        std::vector<ChildState*> exiting;
        for (std::size_t i = 0; n > 0 && i < fds.size(); ++i) {
            if (fds[i].revents == 0) {
                continue;
            }
            auto [s, role] = owners[i];
            switch (role) {
                case Role::pidfd:
                    exiting.push_back(s);
                    break;
                case Role::in:
                    s->write_stdin();
                    break;
                case Role::out:
                    s->out.read_once();
                    break;
                case Role::err:
                    s->err.read_once();
                    break;
                case Role::watched:
                    result.ready_fds.push_back(fds[i].fd);
                    break;
            }
        }
        // After the reads above, so output that arrived with the exit keeps its order.
        for (ChildState* s : exiting) {
            if (s->try_reap()) {
                result.exited.push_back(s);
            }
        }
        if (!result.exited.empty() || !result.ready_fds.empty()) {
            return result;
        }
        if (deadline && std::chrono::steady_clock::now() >= *deadline) {
            return result;
        }
        if (max_sleep && n == 0) {
            return result;  // the caller wanted to run something at least this often
        }
    }
}

}  // namespace envpack::detail
