// Failed MPI ranks, as the rank wrapper (rank_wrapper.c, `envpack-agent --rank`) records them:
// one file `rank.R.exit` per failed rank in each node's exits directory (bind-mounted at
// container_paths::k_rank_exits from NODE_RECORD/logs/exits), holding one line
// `exit CODE TIME_NS` or `signal N TIME_NS`. A rank records only a failure of its own (not one
// caused by the job being stopped), before its MPI launcher learns of it. envpack watches these
// directories (RankExitWatcher) and stops the whole job as soon as one appears, so a failed rank
// ends the job in well under a second whatever the MPI does next (MPICH's Hydra may abort with
// 255 or keep waiting), and the run's exit code is the first recorded rank's (first_rank_exit),
// not the MPI launcher's.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/supervisor.h"
#include "launcher/plan.h"

namespace envpack {

enum class RankEnd { exit, signal };

struct RankExit {
    int rank = 0;
    RankEnd end = RankEnd::exit;
    int value = 0;             // the exit code, or the signal number
    std::int64_t time_ns = 0;  // CLOCK_REALTIME when the wrapper saw the rank end

    // The rank's `rank.R.exit` file: its name and its line.
    std::string file_name() const;
    std::string to_line() const;
    // nullopt when the name or the line is not the wrapper's.
    static std::optional<RankExit> parse(std::string_view file_name, std::string_view line);

    // As a shell reports it: CODE, or 128 + N for signal N.
    int exit_code() const;
    // "rank 3 exited with code 3", "rank 1 was killed by signal 11".
    std::string describe() const;
    bool operator==(const RankExit&) const = default;
};

// The exits directories of the plan's containers on this host (the sources of their
// k_rank_exits mounts), in node order; empty for a job without them (not MPI).
std::vector<std::filesystem::path> rank_exit_dirs(const RunPlan& plan);
std::vector<std::filesystem::path> rank_exit_dirs(const PlanContainer& container);

// Every record in `dirs` (unreadable or malformed files skipped), earliest first (ties: lower
// rank first).
std::vector<RankExit> read_rank_exits(const std::vector<std::filesystem::path>& dirs);
std::optional<RankExit> first_rank_exit(const std::vector<std::filesystem::path>& dirs);

// The rank a failed job is reported with: the first recorded in `dirs`, else `reported` (a record
// seen while the job ran, from a node whose files did not come back). nullopt for a job that did
// not fail (succeeded; timed out or interrupted: 124 and 128+N stand) or whose ranks recorded
// nothing (the MPI launcher's own code stands).
std::optional<RankExit> failed_rank(JobEnd end, const std::vector<std::filesystem::path>& dirs,
                                    const std::optional<RankExit>& reported = std::nullopt);

// A thread that looks into `dirs` every `interval` and calls `on_failure` once, from that thread,
// with the first record it finds. Stopped (and joined) by stop() or the destructor.
class RankExitWatcher {
  public:
    RankExitWatcher(std::vector<std::filesystem::path> dirs,
                    std::function<void(const RankExit&)> on_failure,
                    std::chrono::milliseconds interval = std::chrono::milliseconds(50));
    ~RankExitWatcher();
    RankExitWatcher(const RankExitWatcher&) = delete;
    RankExitWatcher& operator=(const RankExitWatcher&) = delete;

    void stop();
    // The record on_failure was called with, if any (after stop()).
    std::optional<RankExit> seen() const;

  private:
    struct State;
    std::unique_ptr<State> m_state;
};

}  // namespace envpack
