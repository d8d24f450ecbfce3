// Private to core: the state behind a Child handle, the poll loop shared by Child and ChildSet,
// and the process-wide table of live Child pids (so reap_orphans never steals their statuses).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/child.h"

namespace envpack::detail {

class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : m_fd(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) {
            reset(std::exchange(o.m_fd, -1));
        }
        return *this;
    }
    ~UniqueFd() { reset(); }
    int get() const { return m_fd; }
    explicit operator bool() const { return m_fd >= 0; }
    void reset(int fd = -1) {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        m_fd = fd;
    }
    int release() { return std::exchange(m_fd, -1); }

  private:
    int m_fd = -1;
};

// The parent's end of a stdout/stderr pipe and where its bytes go.
struct OutputPipe {
    UniqueFd fd;
    LineSink lines;
    ChunkSink chunks;
    LineSplitter splitter;

    void deliver(std::string_view bytes);
    // Delivers the partial last line and closes the pipe.
    void finish();
    // Reads once; finishes at EOF or on error. Returns false when the pipe is closed.
    bool read_once();
    // Reads what the pipe holds now (FIONREAD), then finishes.
    void drain_and_finish();
};

struct ChildState {
    pid_t pid = -1;
    pid_t pgid = -1;
    UniqueFd pidfd;
    std::vector<std::string> argv;
    UniqueFd in_fd;
    std::string in_data;
    std::size_t in_off = 0;
    OutputPipe out;
    OutputPipe err;
    std::optional<ExitStatus> status;
    bool detached = false;

    bool running() const { return !status && !detached; }
    // Writes what stdin can take now; closes it when all is written or the child stopped reading.
    void write_stdin();
    // Reaps the child if it has exited (never blocks); then drains and closes its pipes.
    // Returns true when it was reaped in this call.
    bool try_reap();
    void close_pipes();
};

struct PumpResult {
    std::vector<ChildState*> exited;
    std::vector<int> ready_fds;
};

// The one poll loop: pumps stdin and output of `states` until one of them exits, a `watched` fd
// is readable, or `deadline` passes. `max_sleep` bounds each poll (for orphan reaping).
PumpResult pump(const std::vector<ChildState*>& states, const std::vector<int>& watched,
                std::optional<std::chrono::steady_clock::time_point> deadline,
                std::optional<std::chrono::milliseconds> max_sleep);

// write() that neither raises SIGPIPE in this process nor retries: returns write()'s result
// (errno EPIPE when the reader is gone).
ssize_t write_no_sigpipe(int fd, const void* data, std::size_t size);

// The pids of live Child handles. Lock the mutex around spawn + insert and reap + erase.
std::mutex& child_table_mutex();
std::set<pid_t>& child_table();

}  // namespace envpack::detail
