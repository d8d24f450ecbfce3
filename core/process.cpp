#include "core/process.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "core/child.h"
#include "core/error.h"

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

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
    if (argv.empty()) {
        throw Error("run_process: empty argument list");
    }
    ProcessResult result;
    ChildOptions co;
    co.cwd = options.cwd;
    co.env = options.env;
    co.env_base = options.clear_env ? EnvBase::clear : EnvBase::inherit;
    co.in = options.stdin_data ? ChildInput::data(*options.stdin_data) : ChildInput::null();
    if (options.capture_stdout) {
        co.out = ChildOutput::chunks([&result](std::string_view b) { result.out.append(b); });
    }
    if (options.capture_stderr) {
        co.err = ChildOutput::chunks([&result](std::string_view b) { result.err.append(b); });
    }
    Child child = Child::spawn(argv, std::move(co));
    std::optional<ExitStatus> status;
    if (options.timeout.count() > 0) {
        status = child.wait_for(options.timeout);
        if (!status) {
            result.timed_out = true;
            status = child.terminate(options.kill_grace);
        }
    } else {
        status = child.wait();
    }
    if (result.timed_out) {
        ::kill(-child.process_group(), SIGKILL);  // whatever the group left behind
    }
    if (status->signal != 0) {
        result.signal = status->signal;
    } else {
        result.exit_code = status->code;
    }
    return result;
}

}  // namespace envpack
