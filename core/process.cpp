#include "core/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "core/error.h"

extern char** environ;

namespace envpack {

std::optional<std::string> find_in_path(const std::string& name) {
    if (name.find('/') != std::string::npos) {
        return ::access(name.c_str(), X_OK) == 0 ? std::optional(name) : std::nullopt;
    }
    const char* path = std::getenv("PATH");
    std::string p = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
        size_t end = p.find(':', start);
        if (end == std::string::npos) {
            end = p.size();
        }
        std::string dir = p.substr(start, end - start);
        std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        start = end + 1;
    }
    return std::nullopt;
}

namespace {

struct Pipe {
    int fd[2] = {-1, -1};
    Pipe() {
        if (::pipe2(fd, O_CLOEXEC) != 0) {
            throw_errno("pipe", "", errno);
        }
    }
    ~Pipe() {
        for (int f : fd) {
            if (f >= 0) {
                ::close(f);
            }
        }
    }
    void close_end(int i) {
        if (fd[i] >= 0) {
            ::close(fd[i]);
            fd[i] = -1;
        }
    }
};

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
    if (argv.empty()) {
        throw Error("run_process: empty argument list");
    }
    Pipe in, out, err;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (options.stdin_data) {
        posix_spawn_file_actions_adddup2(&actions, in.fd[0], 0);
    } else {
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    }
    if (options.capture_stdout) {
        posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
    }
    if (options.capture_stderr) {
        posix_spawn_file_actions_adddup2(&actions, err.fd[1], 2);
    }
    if (options.cwd) {
        posix_spawn_file_actions_addchdir_np(&actions, options.cwd->c_str());
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Own process group, so a timeout kills the child and everything it started.
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    std::vector<std::string> env_storage;
    if (!options.clear_env) {
        for (char** e = environ; *e != nullptr; ++e) {
            std::string_view kv(*e);
            auto eq = kv.find('=');
            std::string key(kv.substr(0, eq));
            if (!options.env.contains(key)) {
                env_storage.emplace_back(kv);
            }
        }
    }
    for (const auto& [k, v] : options.env) {
        env_storage.push_back(k + "=" + v);
    }
    std::vector<char*> envp;
    for (auto& s : env_storage) {
        envp.push_back(s.data());
    }
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);

    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        throw Error(fmt::format("start `{}`: {}", argv[0], std::strerror(rc)),
                    rc == ENOENT ? fmt::format("install {} or put it on PATH", argv[0]) : "");
    }
    in.close_end(0);
    out.close_end(1);
    err.close_end(1);
    if (!options.stdin_data) {
        in.close_end(1);
    } else {
        // Non-blocking, so a child that fills its output pipe while we feed it cannot deadlock us.
        ::fcntl(in.fd[1], F_SETFL, ::fcntl(in.fd[1], F_GETFL) | O_NONBLOCK);
    }

    ProcessResult result;
    size_t in_off = 0;
    auto deadline = std::chrono::steady_clock::now() + options.timeout;
    bool term_sent = false;
    std::chrono::steady_clock::time_point kill_at{};
    for (;;) {
        std::vector<pollfd> fds;
        if (in.fd[1] >= 0) {
            if (in_off >= options.stdin_data->size()) {
                in.close_end(1);
            } else {
                fds.push_back({in.fd[1], POLLOUT, 0});
            }
        }
        if (options.capture_stdout && out.fd[0] >= 0) {
            fds.push_back({out.fd[0], POLLIN, 0});
        }
        if (options.capture_stderr && err.fd[0] >= 0) {
            fds.push_back({err.fd[0], POLLIN, 0});
        }
        if (fds.empty()) {
            break;
        }
        int wait_ms = -1;
        auto now = std::chrono::steady_clock::now();
        if (options.timeout.count() > 0) {
            if (!term_sent && now >= deadline) {
                result.timed_out = true;
                ::kill(-pid, SIGTERM);
                term_sent = true;
                kill_at = now + options.kill_grace;
            }
            if (term_sent && now >= kill_at) {
                ::kill(-pid, SIGKILL);
            }
            auto next = term_sent ? kill_at : deadline;
            wait_ms = static_cast<int>(std::max<long>(
                1, std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count()));
        }
        int n = ::poll(fds.data(), fds.size(), wait_ms);
        if (n < 0 && errno != EINTR) {
            break;
        }
        for (auto& p : fds) {
            if (p.revents == 0) {
                continue;
            }
            if (p.fd == in.fd[1]) {
                ssize_t w = ::write(p.fd, options.stdin_data->data() + in_off,
                                    options.stdin_data->size() - in_off);
                if (w > 0) {
                    in_off += static_cast<size_t>(w);
                } else if (w < 0 && errno != EINTR && errno != EAGAIN) {
                    in.close_end(1);
                }
                continue;
            }
            char buf[65536];
            ssize_t r = ::read(p.fd, buf, sizeof buf);
            if (r > 0) {
                (p.fd == out.fd[0] ? result.out : result.err).append(buf, static_cast<size_t>(r));
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                out.fd[0] == p.fd ? out.close_end(0) : err.close_end(0);
            }
        }
    }
    // Output is closed; wait for the exit, still honouring the timeout.
    int status = 0;
    for (;;) {
        pid_t w = ::waitpid(pid, &status, options.timeout.count() > 0 ? WNOHANG : 0);
        if (w == pid) {
            break;
        }
        if (w < 0 && errno != EINTR) {
            break;
        }
        if (w == 0) {
            auto now = std::chrono::steady_clock::now();
            if (!term_sent && now >= deadline) {
                result.timed_out = true;
                ::kill(-pid, SIGTERM);
                term_sent = true;
                kill_at = now + options.kill_grace;
            } else if (term_sent && now >= kill_at) {
                ::kill(-pid, SIGKILL);
            }
            ::usleep(10000);
        }
    }
    if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
    } else if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    }
    if (term_sent) {
        ::kill(-pid, SIGKILL);  // whatever the group left behind
    }
    return result;
}

}  // namespace envpack
