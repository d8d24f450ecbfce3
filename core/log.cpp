#include "core/log.h"

#include <unistd.h>

#include <cstdio>

namespace envpack {

Log& Log::null() {
    static Log log(LogOptions{LogLevel::quiet, false});
    return log;
}

void Log::clear_progress_line() {
    if (m_progress_line) {
        std::fputs("\r\033[K", stderr);
        m_progress_line = false;
    }
}

void Log::write(std::string_view prefix, std::string_view message) {
    std::lock_guard lock(m_mutex);
    clear_progress_line();
    std::fprintf(stderr, "%.*s%.*s\n", static_cast<int>(prefix.size()), prefix.data(),
                 static_cast<int>(message.size()), message.data());
}

void Log::warn(std::string_view message) {
    if (m_options.level >= LogLevel::warn) {
        write("warning: ", message);
    }
}

void Log::info(std::string_view message) {
    if (m_options.level >= LogLevel::info) {
        write("", message);
    }
}

void Log::debug(std::string_view message) {
    if (m_options.level >= LogLevel::debug) {
        write("debug: ", message);
    }
}

std::string human_bytes(std::uint64_t bytes) {
    static constexpr const char* k_units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1000.0 && u < 4) {
        v /= 1000.0;
        ++u;
    }
    return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, k_units[u]);
}

Progress::Progress(Log& log, std::string label, std::uint64_t total)
    : m_log(log),
      m_label(std::move(label)),
      m_total(total),
      m_start(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
    done();
}

void Progress::add(std::uint64_t amount) {
    m_done += amount;
    if (!m_log.progress_enabled()) {
        return;
    }
    auto now = std::chrono::steady_clock::now();
    std::unique_lock lock(m_log.mutex(), std::try_to_lock);
    if (lock.owns_lock() && now - m_last_draw > std::chrono::milliseconds(100)) {
        m_last_draw = now;
        draw(false);
    }
}

void Progress::draw(bool final) {
    std::uint64_t done = m_done.load();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
    std::string line;
    if (m_total > 0) {
        constexpr int k_width = 30;
        int filled = static_cast<int>(k_width * std::min(1.0, double(done) / double(m_total)));
        line = fmt::format("{:<24.24} [{}{}] {} / {}", m_label, std::string(filled, '#'),
                           std::string(k_width - filled, ' '), human_bytes(done),
                           human_bytes(m_total));
    } else {
        line = fmt::format("{:<24.24} {}", m_label, human_bytes(done));
    }
    if (secs > 0.2) {
        line += fmt::format(" {}/s", human_bytes(static_cast<std::uint64_t>(done / secs)));
    }
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
    m_log.set_progress_line_active(!final);
}

void Progress::done() {
    if (m_finished) {
        return;
    }
    m_finished = true;
    if (m_log.progress_enabled()) {
        std::lock_guard lock(m_log.mutex());
        draw(true);
    }
}

}  // namespace envpack
