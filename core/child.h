// One child process: started without a shell, its output streamed to sinks line by line as it
// comes, waited for, signalled, and stopped with everything it started.
//
// A `Child` is the handle the launcher keeps for each process it starts (runc/crun, mpirun,
// ranks). `ChildSet` (child_set.h) waits on many at once; `run_process` (process.h) is the
// one-shot capture on top; `Supervisor` (supervisor.h) is the stop-all-on-failure policy.
//
// Threads: one `Child` is used from one thread at a time. Sinks are called on the thread that
// waits (wait, try_wait, wait_for, terminate, or the ChildSet that holds it), never concurrently
// for one child, in the order the output arrived.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace envpack {

// Receives one line of output, without its '\n'. A last line without '\n' is delivered when the
// stream ends; a line longer than `k_max_line` bytes is delivered in pieces of that size.
using LineSink = std::function<void(std::string_view line)>;
// Receives output bytes exactly as read (no splitting).
using ChunkSink = std::function<void(std::string_view bytes)>;

inline constexpr std::size_t k_max_line = 1 << 20;

// Where a child's stdin comes from. Default: /dev/null.
class ChildInput {
  public:
    enum class Kind { null, data, inherit, fd };
    static ChildInput null() { return ChildInput(Kind::null); }
    // `data` is written to the child's stdin by the waiting thread, then stdin is closed.
    static ChildInput data(std::string data);
    static ChildInput inherit() { return ChildInput(Kind::inherit); }
    // `fd` is borrowed: duplicated onto the child's stdin at spawn; the caller keeps and closes it.
    static ChildInput fd(int fd);

    Kind kind() const { return m_kind; }
    const std::string& bytes() const { return m_data; }
    int borrowed_fd() const { return m_fd; }

  private:
    explicit ChildInput(Kind kind) : m_kind(kind) {}
    Kind m_kind;
    std::string m_data;
    int m_fd = -1;
};

enum class FileWrite { truncate, append };

// Where a child's stdout or stderr goes. Default: inherited from this process.
class ChildOutput {
  public:
    enum class Kind { inherit, null, file, fd, lines, chunks, merge };
    static ChildOutput inherit() { return ChildOutput(Kind::inherit); }
    static ChildOutput null() { return ChildOutput(Kind::null); }
    // The child writes the file itself (created 0644; opened here, so errors throw at spawn).
    static ChildOutput file(std::filesystem::path path, FileWrite mode = FileWrite::truncate);
    // Borrowed fd, duplicated into the child at spawn; the caller keeps and closes it.
    static ChildOutput fd(int fd);
    // Through a pipe to `sink`, one call per line (see LineSink).
    static ChildOutput lines(LineSink sink);
    // Through a pipe to `sink`, bytes as read.
    static ChildOutput chunks(ChunkSink sink);
    // For stderr only: the same destination as stdout (2>&1; one pipe, so the order of stdout and
    // stderr lines is kept).
    static ChildOutput merge() { return ChildOutput(Kind::merge); }

    Kind kind() const { return m_kind; }
    const std::filesystem::path& path() const { return m_path; }
    FileWrite file_write() const { return m_write; }
    int borrowed_fd() const { return m_fd; }
    const LineSink& line_sink() const { return m_lines; }
    const ChunkSink& chunk_sink() const { return m_chunks; }

  private:
    explicit ChildOutput(Kind kind) : m_kind(kind) {}
    Kind m_kind;
    std::filesystem::path m_path;
    FileWrite m_write = FileWrite::truncate;
    int m_fd = -1;
    LineSink m_lines;
    ChunkSink m_chunks;
};

// Which process group the child runs in.
enum class Grouping {
    new_group,    // its own process group (default): signal_group reaches what it starts
    new_session,  // setsid(): also no controlling terminal
    same_group,   // ours: signal_group signals the child alone
};

enum class EnvBase { inherit, clear };

// Passes this process's `parent_fd` to the child as `child_fd` (e.g. a socket). Borrowed.
struct FdMapping {
    int parent_fd = -1;
    int child_fd = -1;
};

struct ChildOptions {
    std::optional<std::filesystem::path> cwd;  // default: ours
    std::map<std::string, std::string> env;    // set on top of the base
    EnvBase env_base = EnvBase::inherit;       // clear: only `env`
    ChildInput in = ChildInput::null();
    ChildOutput out = ChildOutput::inherit();
    ChildOutput err = ChildOutput::inherit();
    Grouping grouping = Grouping::new_group;
    std::vector<FdMapping> extra_fds;  // all other fds are closed in the child
};

// How a process ended: exited with a code, or killed by a signal.
struct ExitStatus {
    int code = 0;    // valid when signal == 0
    int signal = 0;  // the terminating signal, 0 if it exited

    static ExitStatus exited(int code) { return {code, 0}; }
    static ExitStatus killed(int signal) { return {0, signal}; }
    // From a waitpid() status word.
    static ExitStatus from_wait_status(int status);
    bool ok() const { return signal == 0 && code == 0; }
    // The shell's convention: the exit code, or 128+signal.
    int status_code() const { return signal != 0 ? 128 + signal : code; }
    // "exit code 3", "killed by SIGKILL".
    std::string to_string() const;
    bool operator==(const ExitStatus&) const = default;
};

namespace detail {
struct ChildState;
}

class Child {
  public:
    // Starts argv[0] with `argv`: a name is searched in this process's PATH, a path containing
    // '/' is used as is (relative to the child's cwd). Throws Error naming
    // the program when it cannot be started (not found, not executable, a bad cwd, a file output
    // that cannot be opened). The child gets default dispositions for every signal and an empty
    // signal mask, and no fds but 0-2 and `extra_fds`.
    static Child spawn(const std::vector<std::string>& argv, ChildOptions options = {});

    Child(Child&&) noexcept;
    Child& operator=(Child&&) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    // A child still running is killed (SIGKILL to its group and its descendants) and reaped:
    // a dropped handle leaks nothing. Call detach() to let it run on.
    ~Child();

    pid_t pid() const;
    const std::vector<std::string>& argv() const;
    // The process group it leads (== pid() unless Grouping::same_group, then ours).
    pid_t process_group() const;

    // Pumps output (and stdin data) until the child exits; returns how it ended. Output the
    // child wrote before exiting is all delivered; whatever a process it left behind writes to
    // the same pipes afterwards is not (those pipes are closed). Idempotent once exited.
    ExitStatus wait();
    // Pumps what is ready without blocking; the status once the child has exited.
    std::optional<ExitStatus> try_wait();
    // As wait(), giving up after `timeout` (nullopt: still running).
    std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
    // Whether it has been reaped (an exit status is known).
    bool exited() const;
    std::optional<ExitStatus> status() const;

    // Sends `sig` to the child alone (by pidfd: never another process that reused the pid).
    // No-op once it has been reaped.
    void signal(int sig);
    // Sends `sig` to its whole process group (the child alone under Grouping::same_group).
    void signal_group(int sig);
    // SIGTERM to the group, up to `grace` for it to exit (output pumped meanwhile), then
    // kill_tree(). Returns how it ended.
    ExitStatus terminate(std::chrono::milliseconds grace);
    // SIGKILL to the child and every descendant it has now, including ones in other groups or
    // sessions (found through /proc, stopped first so none can fork or escape meanwhile). Does
    // not wait; no-op once reaped.
    void kill_tree();

    // Gives up the handle: the process runs on, its pipes to us are closed, and it is left to
    // reap_orphans() (process_tree.h). Returns its pid.
    pid_t detach();

    // For ChildSet.
    detail::ChildState& state() { return *m_state; }

  private:
    explicit Child(std::unique_ptr<detail::ChildState> state);
    std::unique_ptr<detail::ChildState> m_state;
};

// Splits a byte stream into lines for a LineSink (a pure helper, used by Child's pipes).
class LineSplitter {
  public:
    // Calls `sink` for each complete line in `bytes` (and for k_max_line pieces).
    void feed(std::string_view bytes, const LineSink& sink);
    // Delivers a last partial line, if any.
    void finish(const LineSink& sink);

  private:
    std::string m_partial;
};

}  // namespace envpack
