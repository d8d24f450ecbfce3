// Where many processes' output goes: one log file per process (its whole output) and a console
// stream where each line carries the process's label ("[rank 0] loss 0.3"). Thread-safe: lines
// of different processes never mix within a line.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/child.h"

namespace envpack {

// Lines written whole, one write() each, under one mutex. Write errors (a closed terminal, a full
// pipe reader gone) are ignored: a console must never stop a job.
class PrefixedConsole {
  public:
    // `fd` is borrowed (default stdout).
    explicit PrefixedConsole(int fd = STDOUT_FILENO) : m_fd(fd) {}
    // Writes "[label] line\n" (just "line\n" when label is empty).
    void write_line(std::string_view label, std::string_view line);
    // A sink that writes each line with `label`. It refers to this console: keep the console
    // alive while the sink is in use.
    LineSink sink(std::string label);

  private:
    int m_fd;
    std::mutex m_mutex;
};

// One process's log file: each line as it came, followed by '\n'. Created (truncated) with mode
// 0644 by open(), which throws Error naming the path. The first write error is kept (error())
// and later lines are dropped: a full disk must not stop the job, and the caller can report it.
class LineLog {
  public:
    static std::shared_ptr<LineLog> open(const std::filesystem::path& path);
    ~LineLog();
    LineLog(const LineLog&) = delete;
    LineLog& operator=(const LineLog&) = delete;

    void write_line(std::string_view line);
    std::optional<std::string> error() const;
    const std::filesystem::path& path() const { return m_path; }
    // A sink that shares ownership of this log.
    static LineSink sink(std::shared_ptr<LineLog> log);

  private:
    LineLog(std::filesystem::path path, int fd) : m_path(std::move(path)), m_fd(fd) {}
    std::filesystem::path m_path;
    int m_fd;
    mutable std::mutex m_mutex;
    std::optional<std::string> m_error;
};

// A sink that passes each line to every one of `sinks`, in order.
LineSink tee(std::vector<LineSink> sinks);

enum class ConsoleEcho { yes, no };

// The logs of one run: `dir/<name>.log` per process, and (ConsoleEcho::yes) a prefixed console.
class ProcessLogs {
  public:
    // Creates `dir` if needed (throws Error naming it). `console_fd` is borrowed.
    ProcessLogs(std::filesystem::path dir, ConsoleEcho echo, int console_fd = STDOUT_FILENO);
    // A sink for one process: its lines go to `dir/<file_stem>.log` and, echoed, to the
    // console as "[label] line". Throws Error when the file cannot be created. The sink refers to
    // this object's console: keep this object alive while the sink is in use.
    LineSink sink(std::string_view label, std::string_view file_stem);
    // The first write error of any log file, if any ("write `dir/rank-0.log`: No space left").
    std::optional<std::string> error() const;
    const std::filesystem::path& dir() const { return m_dir; }

  private:
    std::filesystem::path m_dir;
    ConsoleEcho m_echo;
    PrefixedConsole m_console;
    std::vector<std::shared_ptr<LineLog>> m_logs;
};

}  // namespace envpack
