// A scripted ProcessRunner on a virtual clock (LevelDB's in-memory Env, ninja's fake
// CommandRunner): nothing is started and nothing sleeps, so policies over many processes are
// fast, exact unit tests. wait() jumps the clock straight to the next event.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/process_runner.h"

namespace envpack {

enum class OnSigterm { exit, ignore };

// How a fake process behaves. Default: runs until signalled; SIGTERM kills it.
struct FakeBehaviour {
    std::optional<std::chrono::milliseconds> exits_after;  // nullopt: runs until signalled
    int exit_code = 0;
    OnSigterm on_sigterm = OnSigterm::exit;
    bool cannot_start = false;       // start() throws Error
    std::vector<std::string> lines;  // delivered to options.out's line sink at start
};

class FakeProcessRunner final : public ProcessRunner {
  public:
    // Behaviour for processes whose label is `label` (others get the default).
    void set(const std::string& label, FakeBehaviour behaviour);
    // This process "receives" `sig` at virtual time `at` (from the clock's start).
    void signal_at(std::chrono::milliseconds at, int sig);

    Id start(const ProcessSpec& spec) override;
    // Throws Error when nothing can ever happen (no deadline, nothing scheduled): a test that
    // would hang fails instead.
    Wake wait(std::optional<Clock::time_point> deadline) override;
    void signal_group(Id id, int sig) override;
    void kill_tree(Id id) override;
    void kill_leftovers() override;
    Clock::time_point now() const override { return m_now; }
    void wake() override { m_woken = true; }

    // What happened, one line each, with virtual milliseconds: "0 start rank 0",
    // "100 exit rank 1 (exit code 3)", "100 signal rank 0 SIGTERM", "100 kill rank 0".
    const std::vector<std::string>& events() const { return m_events; }
    // Virtual time since the clock's start (which is Clock::time_point{}).
    std::chrono::milliseconds elapsed() const;

  private:
    struct Process {
        std::string label;
        FakeBehaviour behaviour;
        std::optional<Clock::time_point> exit_at;
        ExitStatus status;
        bool reported = false;
        bool ended = false;
    };
    void end(Id id, ExitStatus status);
    void note(const std::string& what);

    std::map<std::string, FakeBehaviour> m_behaviours;
    std::vector<Process> m_processes;
    std::vector<std::pair<Clock::time_point, int>> m_signals;
    std::vector<std::string> m_events;
    Clock::time_point m_now{};
    bool m_woken = false;
};

}  // namespace envpack
