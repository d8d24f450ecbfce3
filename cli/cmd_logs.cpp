// envpack logs ID [--rank N] [-f]: a run's process logs from its record; -f follows them until
// the run has finished.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/run_job.h"
#include "core/error.h"
#include "launcher/run_record.h"

namespace envpack::cli {
namespace {

// One log file read incrementally: whole lines only (a partial last line waits for the rest,
// unless the run is over).
struct Tail {
    std::string name;
    std::filesystem::path path;
    off_t offset = 0;
    std::string partial;

    void pump(bool prefixed, bool final) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return;
        }
        char buf[65536];
        ssize_t n;
        while ((n = ::pread(fd, buf, sizeof buf, offset)) > 0) {
            offset += n;
            partial.append(buf, static_cast<size_t>(n));
        }
        ::close(fd);
        size_t start = 0;
        for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
            emit(std::string_view(partial).substr(start, nl - start), prefixed);
        }
        partial.erase(0, start);
        if (final && !partial.empty()) {
            emit(partial, prefixed);
            partial.clear();
        }
    }
    void emit(std::string_view line, bool prefixed) const {
        if (prefixed) {
            std::string label = name;
            std::replace(label.begin(), label.end(), '-', ' ');
            std::printf("[%s] ", label.c_str());
        }
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
    }
};

}  // namespace

int cmd_logs(Context& ctx, const std::vector<std::string>& argv) {
    Args args("logs", argv, {{"--rank", "", true}, {"--follow", "-f", false}});
    RunRecord record = RunRecord::open(ctx.home, args.positional(0, "run ID"));
    args.expect_at_most(1);
    RunStatus status = record.read_status();
    std::vector<std::string> names = status.processes;
    if (auto rank = args.value("--rank")) {
        std::string want = "rank-" + *rank;
        if (std::find(names.begin(), names.end(), want) == names.end()) {
            // A single-process job logs as `main`; rank 0 means it.
            if (*rank == "0" && names.size() == 1) {
                want = names.front();
            } else {
                throw bad_input(fmt::format("run {} has no rank {} (its logs: {})", record.id(),
                                            *rank, fmt::join(names, ", ")));
            }
        }
        names = {want};
    }
    std::vector<Tail> tails;
    for (const auto& n : names) {
        tails.push_back({n, record.log_file(n), 0, {}});
    }
    bool prefixed = tails.size() > 1;
    bool follow = args.flag("--follow");
    for (;;) {
        status = record.read_status();
        bool over = !follow || status.phase == RunPhase::finished || !supervisor_alive(status);
        if (follow && tails.empty() && !status.processes.empty()) {
            for (const auto& n : status.processes) {
                tails.push_back({n, record.log_file(n), 0, {}});
            }
            prefixed = tails.size() > 1;
        }
        for (auto& t : tails) {
            t.pump(prefixed, over);
        }
        std::fflush(stdout);
        if (over) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return 0;
}

}  // namespace envpack::cli
