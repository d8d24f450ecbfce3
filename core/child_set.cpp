#include "core/child_set.h"

#include <algorithm>

#include "core/detail/child_state.h"
#include "core/process_tree.h"

namespace envpack {

namespace {
constexpr std::chrono::milliseconds k_reap_interval{250};
}

ChildSet::ChildSet() : m_reap_orphans(is_subreaper()) {}

ChildSet::Id ChildSet::add(Child child) {
    m_children.push_back(std::move(child));
    return m_children.size() - 1;
}

bool ChildSet::all_exited() const {
    return std::all_of(m_children.begin(), m_children.end(),
                       [](const Child& c) { return c.exited(); });
}

void ChildSet::watch(int fd) {
    if (std::find(m_watched.begin(), m_watched.end(), fd) == m_watched.end()) {
        m_watched.push_back(fd);
    }
}

void ChildSet::unwatch(int fd) {
    std::erase(m_watched, fd);
}

ChildSet::Wake ChildSet::wait_any(std::optional<Clock::time_point> deadline) {
    std::vector<detail::ChildState*> states;
    states.reserve(m_children.size());
    for (auto& c : m_children) {
        states.push_back(&c.state());
    }
    Wake wake;
    for (;;) {
        auto max_sleep = m_reap_orphans ? std::optional(k_reap_interval) : std::nullopt;
        auto pumped = detail::pump(states, m_watched, deadline, max_sleep);
        if (m_reap_orphans) {
            reap_orphans();
        }
        for (auto* s : pumped.exited) {
            for (Id id = 0; id < states.size(); ++id) {
                if (states[id] == s) {
                    wake.exited.push_back(id);
                }
            }
        }
        wake.ready_fds = std::move(pumped.ready_fds);
        bool any_running =
            std::any_of(states.begin(), states.end(), [](auto* s) { return s->running(); });
        if (!wake.empty() || (deadline && Clock::now() >= *deadline) ||
            (!any_running && m_watched.empty())) {
            return wake;
        }
    }
}

}  // namespace envpack
