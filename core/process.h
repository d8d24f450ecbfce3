// One-shot child processes: spawn with arguments (no shell), optional stdin data, captured
// output, a timeout after which the whole process group gets SIGTERM then SIGKILL, and clean
// reaping. A thin use of Child (child.h), which streams, waits on many, and stops trees.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace envpack {

struct ProcessOptions {
    std::optional<std::string> cwd;
    // Variables to set (on top of the current environment unless `clear_env`).
    std::map<std::string, std::string> env;
    bool clear_env = false;
    std::optional<std::string> stdin_data;       // nullopt: stdin is /dev/null
    bool capture_stdout = true;                  // false: inherit
    bool capture_stderr = true;                  // false: inherit
    std::chrono::milliseconds timeout{0};        // 0: none
    std::chrono::milliseconds kill_grace{2000};  // between SIGTERM and SIGKILL
};

struct ProcessResult {
    int exit_code = -1;  // valid when !signaled
    int signal = 0;      // the terminating signal, 0 if exited
    bool timed_out = false;
    std::string out;
    std::string err;
    bool ok() const { return !timed_out && signal == 0 && exit_code == 0; }
    // 128+signal for signals, like shells.
    int status_code() const { return signal != 0 ? 128 + signal : exit_code; }
};

// Runs argv[0] (searched in PATH) to completion, in its own process group. Returns once it has
// exited, with all it wrote before exiting. On timeout: SIGTERM to its group, `kill_grace`, then
// SIGKILL to it and its descendants, and SIGKILL to what is left of its group. Throws Error if it
// cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// Whether an executable is found in PATH.
std::optional<std::string> find_in_path(const std::string& name);

}  // namespace envpack
