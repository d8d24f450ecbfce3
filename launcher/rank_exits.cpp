#include "launcher/rank_exits.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/fs.h"

namespace envpack {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_prefix = "rank.";
constexpr std::string_view k_suffix = ".exit";

template <class T>
std::optional<T> number(std::string_view text) {
    T value{};
    if (text.empty() || text.front() == '-' || text.front() == '+') {
        return std::nullopt;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

std::string RankExit::file_name() const {
    return fmt::format("{}{}{}", k_prefix, rank, k_suffix);
}

std::string RankExit::to_line() const {
    return fmt::format("{} {} {}\n", end == RankEnd::exit ? "exit" : "signal", value, time_ns);
}

std::optional<RankExit> RankExit::parse(std::string_view file_name, std::string_view line) {
    if (!file_name.starts_with(k_prefix) || !file_name.ends_with(k_suffix)) {
        return std::nullopt;
    }
    auto rank = number<int>(
        file_name.substr(k_prefix.size(), file_name.size() - k_prefix.size() - k_suffix.size()));
    if (line.ends_with('\n')) {
        line.remove_suffix(1);
    }
    std::vector<std::string_view> words;
    for (size_t at = 0; at <= line.size();) {
        size_t sp = std::min(line.find(' ', at), line.size());
        words.push_back(line.substr(at, sp - at));
        at = sp + 1;
    }
    if (!rank || words.size() != 3 || (words[0] != "exit" && words[0] != "signal")) {
        return std::nullopt;
    }
    auto value = number<int>(words[1]);
    auto time = number<std::int64_t>(words[2]);
    if (!value || !time || *value > 255) {
        return std::nullopt;
    }
    RankExit r;
    r.rank = *rank;
    r.end = words[0] == "exit" ? RankEnd::exit : RankEnd::signal;
    r.value = *value;
    r.time_ns = *time;
    return r;
}

int RankExit::exit_code() const {
    return end == RankEnd::exit ? value : 128 + value;
}

std::string RankExit::describe() const {
    return end == RankEnd::exit ? fmt::format("rank {} exited with code {}", rank, value)
                                : fmt::format("rank {} was killed by signal {}", rank, value);
}

std::vector<fs::path> rank_exit_dirs(const PlanContainer& container) {
    std::vector<fs::path> dirs;
    for (const auto& m : container.mounts) {
        if (m.destination == container_paths::k_rank_exits) {
            dirs.emplace_back(m.source);
        }
    }
    return dirs;
}

std::vector<fs::path> rank_exit_dirs(const RunPlan& plan) {
    std::vector<fs::path> dirs;
    for (const auto& c : plan.containers) {
        auto more = rank_exit_dirs(c);
        dirs.insert(dirs.end(), more.begin(), more.end());
    }
    return dirs;
}

std::vector<RankExit> read_rank_exits(const std::vector<fs::path>& dirs) {
    std::vector<RankExit> out;
    for (const auto& dir : dirs) {
        std::error_code ec;
        for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            std::string name = it->path().filename().string();
            if (!name.starts_with(k_prefix) || !name.ends_with(k_suffix)) {
                continue;  // the wrapper's temporary files start with '.'
            }
            try {
                if (auto r = RankExit::parse(name, read_file(it->path()))) {
                    out.push_back(*r);
                }
            } catch (const std::exception&) {
                // gone or unreadable: not a record
            }
        }
    }
    std::sort(out.begin(), out.end(), [](const RankExit& a, const RankExit& b) {
        return a.time_ns != b.time_ns ? a.time_ns < b.time_ns : a.rank < b.rank;
    });
    return out;
}

std::optional<RankExit> first_rank_exit(const std::vector<fs::path>& dirs) {
    auto all = read_rank_exits(dirs);
    if (all.empty()) {
        return std::nullopt;
    }
    return all.front();
}

std::optional<RankExit> failed_rank(JobEnd end, const std::vector<fs::path>& dirs,
                                    const std::optional<RankExit>& reported) {
    if (end != JobEnd::failed) {
        return std::nullopt;
    }
    if (auto first = first_rank_exit(dirs)) {
        return first;
    }
    return reported;
}

struct RankExitWatcher::State {
    std::vector<fs::path> dirs;
    std::function<void(const RankExit&)> on_failure;
    std::chrono::milliseconds interval;
    mutable std::mutex mutex;
    std::condition_variable wake;
    bool stopping = false;
    std::optional<RankExit> seen;
    std::thread thread;

    void loop() {
        std::unique_lock lock(mutex);
        while (!stopping) {
            lock.unlock();
            auto first = first_rank_exit(dirs);
            if (first) {
                on_failure(*first);
            }
            lock.lock();
            if (first) {
                seen = first;
                return;
            }
            wake.wait_for(lock, interval, [this] { return stopping; });
        }
    }
};

RankExitWatcher::RankExitWatcher(std::vector<fs::path> dirs,
                                 std::function<void(const RankExit&)> on_failure,
                                 std::chrono::milliseconds interval)
    : m_state(std::make_unique<State>()) {
    m_state->dirs = std::move(dirs);
    m_state->on_failure = std::move(on_failure);
    m_state->interval = interval;
    m_state->thread = std::thread([s = m_state.get()] { s->loop(); });
}

RankExitWatcher::~RankExitWatcher() {
    stop();
}

void RankExitWatcher::stop() {
    {
        std::lock_guard lock(m_state->mutex);
        m_state->stopping = true;
    }
    m_state->wake.notify_all();
    if (m_state->thread.joinable()) {
        m_state->thread.join();
    }
}

std::optional<RankExit> RankExitWatcher::seen() const {
    std::lock_guard lock(m_state->mutex);
    return m_state->seen;
}

}  // namespace envpack
