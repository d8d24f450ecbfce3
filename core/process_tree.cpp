#include "core/process_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "core/detail/child_state.h"
#include "core/error.h"

namespace envpack {

namespace {

struct ProcInfo {
    pid_t ppid = 0;
    char state = '?';
};

// "pid (comm) S ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
std::optional<ProcInfo> read_stat(pid_t pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return std::nullopt;
    }
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) {
        return std::nullopt;
    }
    std::string_view s(buf, static_cast<std::size_t>(n));
    auto close = s.rfind(')');
    if (close == std::string_view::npos || close + 4 >= s.size()) {
        return std::nullopt;
    }
    ProcInfo info;
    info.state = s[close + 2];
    info.ppid = static_cast<pid_t>(std::strtol(s.data() + close + 4, nullptr, 10));
    return info;
}

// Every process and its parent, now.
std::map<pid_t, ProcInfo> scan_proc() {
    std::map<pid_t, ProcInfo> out;
    DIR* dir = ::opendir("/proc");
    if (dir == nullptr) {
        return out;
    }
    while (dirent* e = ::readdir(dir)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (pid <= 0 || *end != '\0') {
            continue;
        }
        if (auto info = read_stat(static_cast<pid_t>(pid))) {
            out.emplace(static_cast<pid_t>(pid), *info);
        }
    }
    ::closedir(dir);
    return out;
}

std::vector<pid_t> descendants_in(const std::map<pid_t, ProcInfo>& procs, pid_t root,
                                  const std::set<pid_t>& spare) {
    std::multimap<pid_t, pid_t> children;
    for (const auto& [pid, info] : procs) {
        children.emplace(info.ppid, pid);
    }
    std::vector<pid_t> out;
    std::vector<pid_t> frontier{root};
    while (!frontier.empty()) {
        std::vector<pid_t> next;
        for (pid_t parent : frontier) {
            auto [lo, hi] = children.equal_range(parent);
            for (auto it = lo; it != hi; ++it) {
                if (spare.contains(it->second) || it->second == root) {
                    continue;
                }
                out.push_back(it->second);
                next.push_back(it->second);
            }
        }
        frontier = std::move(next);
    }
    return out;
}

// Waits (briefly) until `pid` shows as stopped, dead or gone, so it can no longer fork.
void wait_until_stopped(pid_t pid) {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    for (;;) {
        auto info = read_stat(pid);
        if (!info || info->state == 'T' || info->state == 't' || info->state == 'Z' ||
            info->state == 'X') {
            return;
        }
        if (std::chrono::steady_clock::now() > give_up) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

}  // namespace

void become_subreaper() {
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        throw_errno("become a child subreaper", "prctl(PR_SET_CHILD_SUBREAPER)", errno);
    }
}

bool is_subreaper() {
    int flag = 0;
    return ::prctl(PR_GET_CHILD_SUBREAPER, &flag, 0, 0, 0) == 0 && flag != 0;
}

std::vector<std::pair<pid_t, ExitStatus>> reap_orphans() {
    std::vector<std::pair<pid_t, ExitStatus>> reaped;
    pid_t self = ::getpid();
    std::lock_guard lock(detail::child_table_mutex());
    const auto& live = detail::child_table();
    for (const auto& [pid, info] : scan_proc()) {
        if (info.ppid != self || info.state != 'Z' || live.contains(pid)) {
            continue;
        }
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            reaped.emplace_back(pid, ExitStatus::from_wait_status(status));
        }
    }
    return reaped;
}

std::vector<pid_t> descendants(pid_t root, const std::set<pid_t>& spare) {
    return descendants_in(scan_proc(), root, spare);
}

std::size_t kill_tree(pid_t root, KillRoot with_root, const std::set<pid_t>& spare) {
    std::set<pid_t> stopped;
    std::vector<pid_t> order;
    auto stop = [&](pid_t pid) {
        if (stopped.insert(pid).second && ::kill(pid, SIGSTOP) == 0) {
            order.push_back(pid);
            wait_until_stopped(pid);
        }
    };
    if (with_root == KillRoot::yes) {
        stop(root);
    }
    // A stopped process cannot fork, so the walk ends once a pass finds nothing new.
    for (int pass = 0; pass < 100; ++pass) {
        bool found = false;
        for (pid_t pid : descendants(root, spare)) {
            if (!stopped.contains(pid)) {
                stop(pid);
                found = true;
            }
        }
        if (!found) {
            break;
        }
    }
    for (pid_t pid : order) {
        ::kill(pid, SIGKILL);
    }
    return order.size();
}

std::set<pid_t> live_child_pids() {
    std::lock_guard lock(detail::child_table_mutex());
    return detail::child_table();
}

std::size_t kill_leftovers() {
    std::size_t n = kill_tree(::getpid(), KillRoot::no, live_child_pids());
    if (n > 0) {
        // They were ours (as subreaper): give them a moment to die, then reap them.
        auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
        while (std::chrono::steady_clock::now() < give_up) {
            reap_orphans();
            if (descendants(::getpid(), live_child_pids()).empty()) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        reap_orphans();
    }
    return n;
}

}  // namespace envpack
