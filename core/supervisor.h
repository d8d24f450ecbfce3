// The job policy over a ProcessRunner: start N processes; when one fails, stop all the others
// (SIGTERM to each group, a grace period, then SIGKILL to each tree) and report the first
// failure's exit code; a job-level timeout; stop everything when a signal arrives.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/process_runner.h"

namespace envpack {

// Why the supervisor stops the processes still running.
enum class JobEnd {
    succeeded,    // every task exited 0 (services were then stopped)
    failed,       // a task (or a service) ended with a non-zero status or a signal
    timed_out,    // SupervisorOptions::timeout passed
    interrupted,  // a signal arrived (or request_stop())
};

enum class Leftovers { kill, keep };

struct SupervisorOptions {
    // Between SIGTERM and SIGKILL when stopping.
    std::chrono::milliseconds grace{10'000};
    // For the whole job, from the first start(); nullopt: none.
    std::optional<std::chrono::milliseconds> timeout;
    // Called once when stopping begins (after a failure, a timeout or a signal; also after
    // success while services still run), before any SIGTERM: e.g. `runc kill` for containers.
    std::function<void(JobEnd)> on_stop;
    // After every process ended: kill what they left behind (runner.kill_leftovers()).
    Leftovers leftovers = Leftovers::kill;
};

struct ProcessReport {
    std::string label;
    Lifetime lifetime = Lifetime::task;
    ExitStatus status;
    bool stopped = false;  // signalled by the supervisor before it ended
};

struct JobResult {
    JobEnd end = JobEnd::succeeded;
    // 0; the first failure's status code (128+N when a signal killed it); 124 on timeout;
    // 128+N when interrupted by signal N.
    int exit_code = 0;
    std::optional<std::size_t> first_failure;  // index into processes
    int signal = 0;                            // when interrupted
    std::vector<ProcessReport> processes;      // in start order
    // "rank 1 failed (exit code 3); stopped rank 0, rank 2", "timed out after 60 s", ...
    std::string summary() const;
};

// One job. Use from one thread, except request_stop().
class Supervisor {
  public:
    Supervisor(ProcessRunner& runner, SupervisorOptions options = {});
    // Processes still running (run() never called, or an exception left it) are stopped as in
    // a failure: SIGTERM, grace, SIGKILL.
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Starts a process; returns its index. Throws Error when it cannot be started (the ones
    // started before keep running until run() or the destructor).
    std::size_t start(ProcessSpec spec);
    // Waits until every process has ended, applying the policy; returns the outcome. Call once.
    JobResult run();
    // Thread-safe: stop the job as if signal `sig` had arrived (JobEnd::interrupted).
    void request_stop(int sig);

  private:
    struct Entry {
        ProcessReport report;
        ProcessRunner::Id id = 0;
        bool running = true;
    };
    void begin_stop(JobEnd why);
    void escalate();
    std::size_t running_count() const;
    void record_exit(const ProcessRunner::Exit& exit);
    void stop_everything_now();

    ProcessRunner& m_runner;
    SupervisorOptions m_options;
    std::vector<Entry> m_entries;
    std::optional<ProcessRunner::Clock::time_point> m_deadline;
    std::optional<ProcessRunner::Clock::time_point> m_kill_at;
    bool m_stopping = false;
    bool m_killed = false;
    JobResult m_result;
    std::atomic<int> m_stop_request{0};
};

}  // namespace envpack
