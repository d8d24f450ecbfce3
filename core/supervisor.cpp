#include "core/supervisor.h"

#include <signal.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/signals.h"

namespace envpack {

std::string JobResult::summary() const {
    std::vector<std::string> stopped;
    for (const auto& p : processes) {
        if (p.stopped) {
            stopped.push_back(p.label);
        }
    }
    std::string tail = stopped.empty() ? "" : fmt::format("; stopped {}", fmt::join(stopped, ", "));
    switch (end) {
        case JobEnd::succeeded:
            return fmt::format("{} process(es) succeeded{}", processes.size(), tail);
        case JobEnd::failed: {
            const auto& p = processes.at(first_failure.value_or(0));
            return fmt::format("{} failed ({}){}", p.label, p.status.to_string(), tail);
        }
        case JobEnd::timed_out:
            return fmt::format("timed out{}", tail);
        case JobEnd::interrupted:
            return fmt::format("interrupted by {}{}", signal_name(signal), tail);
    }
    return {};
}

Supervisor::Supervisor(ProcessRunner& runner, SupervisorOptions options)
    : m_runner(runner), m_options(std::move(options)) {}

Supervisor::~Supervisor() {
    if (running_count() == 0) {
        return;
    }
    try {
        if (!m_stopping) {
            begin_stop(JobEnd::interrupted);
        }
        run();
    } catch (...) {
        // A destructor must not throw; the runner's own destructor kills what is left.
    }
}

std::size_t Supervisor::start(ProcessSpec spec) {
    if (!m_deadline && m_options.timeout) {
        m_deadline = m_runner.now() + *m_options.timeout;
    }
    Entry entry;
    entry.report.label = spec.label;
    entry.report.lifetime = spec.lifetime;
    entry.id = m_runner.start(spec);
    m_entries.push_back(std::move(entry));
    return m_entries.size() - 1;
}

void Supervisor::request_stop(int sig) {
    m_stop_request.store(sig);
    m_runner.wake();
}

std::size_t Supervisor::running_count() const {
    return static_cast<std::size_t>(std::count_if(m_entries.begin(), m_entries.end(),
                                                  [](const Entry& e) { return e.running; }));
}

void Supervisor::begin_stop(JobEnd why) {
    m_stopping = true;
    m_result.end = why;
    if (m_options.on_stop) {
        m_options.on_stop(why);
    }
    for (auto& e : m_entries) {
        if (e.running) {
            m_runner.signal_group(e.id, SIGTERM);
            e.report.stopped = true;
        }
    }
    m_kill_at = m_runner.now() + m_options.grace;
}

void Supervisor::escalate() {
    m_killed = true;
    for (auto& e : m_entries) {
        if (e.running) {
            m_runner.kill_tree(e.id);
            e.report.stopped = true;
        }
    }
}

void Supervisor::record_exit(const ProcessRunner::Exit& exit) {
    auto it = std::find_if(m_entries.begin(), m_entries.end(),
                           [&](const Entry& e) { return e.id == exit.id; });
    if (it == m_entries.end() || !it->running) {
        return;
    }
    it->running = false;
    it->report.status = exit.status;
    if (!m_stopping && !exit.status.ok()) {
        m_result.first_failure = static_cast<std::size_t>(it - m_entries.begin());
        begin_stop(JobEnd::failed);
    }
}

void Supervisor::stop_everything_now() {
    if (!m_stopping) {
        begin_stop(JobEnd::interrupted);
    } else if (!m_killed) {
        escalate();  // a second signal: no more grace
    }
}

JobResult Supervisor::run() {
    auto on_signal = [&](int sig) {
        if (!m_stopping) {
            m_result.signal = sig;
        }
        stop_everything_now();
    };
    while (running_count() > 0) {
        if (int sig = m_stop_request.exchange(0); sig != 0) {
            on_signal(sig);
        }
        if (!m_stopping) {
            bool tasks_running = std::any_of(m_entries.begin(), m_entries.end(), [](auto& e) {
                return e.running && e.report.lifetime == Lifetime::task;
            });
            if (!tasks_running) {
                begin_stop(JobEnd::succeeded);  // only services are left
            }
        }
        std::optional<ProcessRunner::Clock::time_point> deadline;
        if (!m_stopping) {
            deadline = m_deadline;
        } else if (!m_killed) {
            deadline = m_kill_at;
        }
        auto wake = m_runner.wait(deadline);
        for (const auto& exit : wake.exits) {
            record_exit(exit);
        }
        if (wake.signal) {
            on_signal(*wake.signal);
        }
        bool nothing = wake.exits.empty() && !wake.signal && !wake.woken;
        if (nothing && deadline && m_runner.now() >= *deadline) {
            if (!m_stopping) {
                begin_stop(JobEnd::timed_out);
            } else if (!m_killed) {
                escalate();
            }
        }
    }
    if (m_options.leftovers == Leftovers::kill) {
        m_runner.kill_leftovers();
    }
    JobResult result = m_result;
    for (const auto& e : m_entries) {
        result.processes.push_back(e.report);
    }
    switch (result.end) {
        case JobEnd::succeeded:
            result.exit_code = 0;
            break;
        case JobEnd::failed: {
            int code = result.processes.at(*result.first_failure).status.status_code();
            result.exit_code = code > 0 ? code : 1;
            break;
        }
        case JobEnd::timed_out:
            result.exit_code = 124;
            break;
        case JobEnd::interrupted:
            result.exit_code = 128 + (result.signal != 0 ? result.signal : SIGTERM);
            break;
    }
    return result;
}

}  // namespace envpack
