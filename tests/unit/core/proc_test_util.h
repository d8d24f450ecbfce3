// Helpers for the process-layer tests: is a pid alive, read a pid file, poll with a bound.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>

namespace envpack::test {

// The state letter /proc shows for `pid` ('R', 'S', 'Z'...), nullopt when it is gone.
inline std::optional<char> proc_state(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto close = s.rfind(')');
    if (close == std::string::npos || close + 2 >= s.size()) {
        return std::nullopt;
    }
    return s[close + 2];
}

inline pid_t proc_ppid(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto close = s.rfind(')');
    if (close == std::string::npos || close + 4 >= s.size()) {
        return -1;
    }
    return static_cast<pid_t>(std::strtol(s.c_str() + close + 4, nullptr, 10));
}

// Running (not a zombie, not gone).
inline bool alive(pid_t pid) {
    auto st = proc_state(pid);
    return st && *st != 'Z' && *st != 'X';
}

// Polls `done` every 2 ms for up to `limit` (generous: a bound, not a timing assertion).
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

// The pid written to `path` by a child ("echo $$ > path"), once the whole line is there.
inline pid_t read_pid_file(const std::filesystem::path& path) {
    pid_t pid = -1;
    eventually([&] {
        std::ifstream f(path);
        std::string line;
        if (std::getline(f, line) && !f.eof()) {
            pid = static_cast<pid_t>(std::atoi(line.c_str()));
            return pid > 0;
        }
        return false;
    });
    return pid;
}

}  // namespace envpack::test
