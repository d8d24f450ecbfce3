// Logging and progress. Progress bars go to stderr and only when stderr is a terminal;
// otherwise progress is silent and only warnings/errors (and info with -v) are written.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace envpack {

enum class LogLevel { quiet = 0, warn = 1, info = 2, debug = 3 };

struct LogOptions {
    LogLevel level = LogLevel::warn;
    bool progress = false;  // set by cli from isatty(2) unless --quiet
};

// One logger per process run, owned by cli and passed by reference to what needs it.
class Log {
  public:
    explicit Log(LogOptions options = {}) : m_options(options) {}

    void warn(std::string_view message);
    void info(std::string_view message);
    void debug(std::string_view message);
    template <class... A>
    void warnf(fmt::format_string<A...> f, A&&... a) {
        warn(fmt::format(f, std::forward<A>(a)...));
    }
    template <class... A>
    void infof(fmt::format_string<A...> f, A&&... a) {
        info(fmt::format(f, std::forward<A>(a)...));
    }

    bool progress_enabled() const { return m_options.progress; }
    LogLevel level() const { return m_options.level; }
    std::mutex& mutex() { return m_mutex; }
    // Erases an active progress line before another message is printed.
    void clear_progress_line();
    void set_progress_line_active(bool active) { m_progress_line = active; }

    // A logger that prints nothing (for library calls that need one).
    static Log& null();

  private:
    void write(std::string_view prefix, std::string_view message);
    LogOptions m_options;
    std::mutex m_mutex;
    bool m_progress_line = false;
};

// A progress bar for one task of known (or unknown, total = 0) size. Thread-safe add().
// Redraws at most every 100 ms; prints nothing when progress is disabled.
class Progress {
  public:
    Progress(Log& log, std::string label, std::uint64_t total);
    ~Progress();
    void add(std::uint64_t amount);
    void done();

  private:
    void draw(bool final);
    Log& m_log;
    std::string m_label;
    std::uint64_t m_total;
    std::atomic<std::uint64_t> m_done{0};
    std::chrono::steady_clock::time_point m_start;
    std::chrono::steady_clock::time_point m_last_draw;
    bool m_finished = false;
};

// "12.3 MB" style (decimal units).
std::string human_bytes(std::uint64_t bytes);

}  // namespace envpack
