// Signal forwarding: SIGINT/SIGTERM/SIGHUP received by envpack become events its poll loop sees,
// so the launcher can stop its job first and then exit 128+N.
#pragma once

#include <signal.h>

#include <optional>
#include <string>
#include <vector>

namespace envpack {

// While one exists, the listed signals no longer end this process: a handler queues each one
// (self-pipe) and fd() becomes readable. Only one may exist at a time (a second one throws
// Error). The destructor restores the previous dispositions; signals still queued are dropped.
// Children started through Child get default dispositions regardless.
class SignalForwarder {
  public:
    explicit SignalForwarder(std::vector<int> signals = default_signals());
    ~SignalForwarder();
    SignalForwarder(const SignalForwarder&) = delete;
    SignalForwarder& operator=(const SignalForwarder&) = delete;

    // Readable while a signal is queued. Borrowed: valid while this object lives.
    int fd() const { return m_read_fd; }
    // The next queued signal, without blocking; nullopt when none is queued.
    std::optional<int> take();

    static std::vector<int> default_signals();

  private:
    std::vector<int> m_signals;
    int m_read_fd = -1;
    int m_write_fd = -1;
    std::vector<struct sigaction> m_saved;
};

// "SIGTERM" for 15, "signal 99" when unknown.
std::string signal_name(int sig);

}  // namespace envpack
