// The interface the launcher's policies start and watch processes through (as ninja's
// CommandRunner): `ChildRunner` runs real children; `FakeProcessRunner` (fake_runner.h) scripts
// them on a virtual clock so "one of many fails, the rest are stopped" is a fast unit test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/child.h"

namespace envpack {

class SignalForwarder;

// What a process is for: the job ends when every task has ended; services (TensorFlow parameter
// servers, a node container's init) are stopped then.
enum class Lifetime { task, service };

struct ProcessSpec {
    std::string label;  // names it in results and logs: "rank 0", "worker 1", "node 0"
    std::vector<std::string> argv;
    ChildOptions options;
    Lifetime lifetime = Lifetime::task;
};

class ProcessRunner {
  public:
    using Id = std::size_t;  // 0, 1, 2... in start order
    using Clock = std::chrono::steady_clock;

    struct Exit {
        Id id = 0;
        ExitStatus status;
    };
    struct Wake {
        std::vector<Exit> exits;    // processes that ended since the last wait()
        std::optional<int> signal;  // a signal this process received (SIGINT, SIGTERM...)
        bool woken = false;         // wake() was called
    };

    virtual ~ProcessRunner() = default;

    // Starts a process. Throws Error when it cannot be started.
    virtual Id start(const ProcessSpec& spec) = 0;
    // Pumps output until a process ends, a signal arrives, wake() is called, or `deadline`
    // passes (nullopt: none); in the last case everything in the result is empty.
    virtual Wake wait(std::optional<Clock::time_point> deadline) = 0;
    // Sends `sig` to the process group of process `id`; no-op once it ended.
    virtual void signal_group(Id id, int sig) = 0;
    // SIGKILL to process `id` and all its descendants; no-op once it ended.
    virtual void kill_tree(Id id) = 0;
    // Kills whatever ended processes left behind (see process_tree.h kill_leftovers).
    virtual void kill_leftovers() = 0;
    virtual Clock::time_point now() const = 0;
    // Thread-safe: makes a wait() in progress (or the next one) return with `woken`.
    virtual void wake() = 0;
};

// The real runner: each process is a Child in one ChildSet; wait() polls them all, plus the
// signal forwarder's fd when one is given (borrowed; it must outlive the runner).
class ChildRunner final : public ProcessRunner {
  public:
    explicit ChildRunner(SignalForwarder* signals = nullptr);
    ~ChildRunner() override;

    Id start(const ProcessSpec& spec) override;
    Wake wait(std::optional<Clock::time_point> deadline) override;
    void signal_group(Id id, int sig) override;
    void kill_tree(Id id) override;
    void kill_leftovers() override;
    Clock::time_point now() const override { return Clock::now(); }
    void wake() override;

    Child& child(Id id);

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace envpack
