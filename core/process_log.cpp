#include "core/process_log.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/detail/child_state.h"
#include "core/error.h"

namespace envpack {

namespace {

// Writes all of `data`; returns errno of the first failure, 0 on success. No SIGPIPE.
int write_whole(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = detail::write_no_sigpipe(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? errno : EIO;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return 0;
}

}  // namespace

void PrefixedConsole::write_line(std::string_view label, std::string_view line) {
    std::string text =
        label.empty() ? fmt::format("{}\n", line) : fmt::format("[{}] {}\n", label, line);
    std::lock_guard lock(m_mutex);
    write_whole(m_fd, text);
}

LineSink PrefixedConsole::sink(std::string label) {
    return [this, label = std::move(label)](std::string_view line) { write_line(label, line); };
}

std::shared_ptr<LineLog> LineLog::open(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw_errno("create log", path.string(), errno);
    }
    return std::shared_ptr<LineLog>(new LineLog(path, fd));
}

LineLog::~LineLog() {
    ::close(m_fd);
}

void LineLog::write_line(std::string_view line) {
    std::string text;
    text.reserve(line.size() + 1);
    text.append(line);
    text.push_back('\n');
    std::lock_guard lock(m_mutex);
    if (m_error) {
        return;
    }
    if (int err = write_whole(m_fd, text); err != 0) {
        m_error = fmt::format("write `{}`: {}", m_path.string(), std::strerror(err));
    }
}

std::optional<std::string> LineLog::error() const {
    std::lock_guard lock(m_mutex);
    return m_error;
}

LineSink LineLog::sink(std::shared_ptr<LineLog> log) {
    return [log = std::move(log)](std::string_view line) { log->write_line(line); };
}

LineSink tee(std::vector<LineSink> sinks) {
    return [sinks = std::move(sinks)](std::string_view line) {
        for (const auto& s : sinks) {
            s(line);
        }
    };
}

ProcessLogs::ProcessLogs(std::filesystem::path dir, ConsoleEcho echo, int console_fd)
    : m_dir(std::move(dir)), m_echo(echo), m_console(console_fd) {
    std::error_code ec;
    std::filesystem::create_directories(m_dir, ec);
    if (ec) {
        throw Error(fmt::format("create log directory `{}`: {}", m_dir.string(), ec.message()));
    }
}

LineSink ProcessLogs::sink(std::string_view label, std::string_view file_stem) {
    auto log = LineLog::open(m_dir / fmt::format("{}.log", file_stem));
    m_logs.push_back(log);
    if (m_echo == ConsoleEcho::no) {
        return LineLog::sink(log);
    }
    return tee({LineLog::sink(log), m_console.sink(std::string(label))});
}

std::optional<std::string> ProcessLogs::error() const {
    for (const auto& log : m_logs) {
        if (auto e = log->error()) {
            return e;
        }
    }
    return std::nullopt;
}

}  // namespace envpack
