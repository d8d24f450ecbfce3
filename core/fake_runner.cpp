#include "core/fake_runner.h"

#include <signal.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"
#include "core/signals.h"

namespace envpack {

void FakeProcessRunner::set(const std::string& label, FakeBehaviour behaviour) {
    m_behaviours[label] = std::move(behaviour);
}

void FakeProcessRunner::signal_at(std::chrono::milliseconds at, int sig) {
    m_signals.emplace_back(Clock::time_point{} + at, sig);
    std::stable_sort(m_signals.begin(), m_signals.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
}

std::chrono::milliseconds FakeProcessRunner::elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(m_now - Clock::time_point{});
}

void FakeProcessRunner::note(const std::string& what) {
    m_events.push_back(fmt::format("{} {}", elapsed().count(), what));
}

void FakeProcessRunner::end(Id id, ExitStatus status) {
    auto& p = m_processes.at(id);
    if (p.ended) {
        return;
    }
    p.ended = true;
    p.status = status;
    note(fmt::format("exit {} ({})", p.label, status.to_string()));
}

ProcessRunner::Id FakeProcessRunner::start(const ProcessSpec& spec) {
    auto it = m_behaviours.find(spec.label);
    FakeBehaviour behaviour = it != m_behaviours.end() ? it->second : FakeBehaviour{};
    if (behaviour.cannot_start) {
        note(fmt::format("cannot start {}", spec.label));
        throw Error(fmt::format("start `{}`: No such file or directory",
                                spec.argv.empty() ? spec.label : spec.argv[0]));
    }
    Process p;
    p.label = spec.label;
    if (behaviour.exits_after) {
        p.exit_at = m_now + *behaviour.exits_after;
    }
    if (spec.options.out.kind() == ChildOutput::Kind::lines) {
        for (const auto& line : behaviour.lines) {
            spec.options.out.line_sink()(line);
        }
    }
    p.behaviour = std::move(behaviour);
    m_processes.push_back(std::move(p));
    note(fmt::format("start {}", spec.label));
    return m_processes.size() - 1;
}

ProcessRunner::Wake FakeProcessRunner::wait(std::optional<Clock::time_point> deadline) {
    Wake wake;
    auto collect = [&] {
        for (Id id = 0; id < m_processes.size(); ++id) {
            auto& p = m_processes[id];
            if (p.ended && !p.reported) {
                p.reported = true;
                wake.exits.push_back({id, p.status});
            }
        }
    };
    if (m_woken) {
        m_woken = false;
        wake.woken = true;
        return wake;
    }
    collect();
    if (!wake.exits.empty()) {
        return wake;
    }
    std::optional<Clock::time_point> next = deadline;
    auto consider = [&](Clock::time_point t) {
        if (!next || t < *next) {
            next = t;
        }
    };
    for (const auto& p : m_processes) {
        if (!p.ended && p.exit_at) {
            consider(*p.exit_at);
        }
    }
    if (!m_signals.empty()) {
        consider(m_signals.front().first);
    }
    if (!next) {
        throw Error("fake process runner: wait() with nothing scheduled would block forever");
    }
    m_now = std::max(m_now, *next);
    for (Id id = 0; id < m_processes.size(); ++id) {
        auto& p = m_processes[id];
        if (!p.ended && p.exit_at && *p.exit_at <= m_now) {
            end(id, ExitStatus::exited(p.behaviour.exit_code));
        }
    }
    if (!m_signals.empty() && m_signals.front().first <= m_now) {
        wake.signal = m_signals.front().second;
        note(fmt::format("received {}", signal_name(*wake.signal)));
        m_signals.erase(m_signals.begin());
    }
    collect();
    return wake;
}

void FakeProcessRunner::signal_group(Id id, int sig) {
    auto& p = m_processes.at(id);
    if (p.ended) {
        return;
    }
    note(fmt::format("signal {} {}", p.label, signal_name(sig)));
    if (sig == SIGKILL || (sig == SIGTERM && p.behaviour.on_sigterm == OnSigterm::exit)) {
        end(id, ExitStatus::killed(sig));
    }
}

void FakeProcessRunner::kill_tree(Id id) {
    auto& p = m_processes.at(id);
    if (p.ended) {
        return;
    }
    note(fmt::format("kill {}", p.label));
    end(id, ExitStatus::killed(SIGKILL));
}

void FakeProcessRunner::kill_leftovers() {
    note("kill leftovers");
}

}  // namespace envpack
