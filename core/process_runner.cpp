#include "core/process_runner.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "core/child_set.h"
#include "core/detail/child_state.h"
#include "core/error.h"
#include "core/process_tree.h"
#include "core/signals.h"

namespace envpack {

struct ChildRunner::Impl {
    ChildSet set;
    SignalForwarder* signals = nullptr;
    detail::UniqueFd wake_fd;
};

ChildRunner::ChildRunner(SignalForwarder* signals) : m_impl(std::make_unique<Impl>()) {
    m_impl->signals = signals;
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        throw_errno("process runner: eventfd", "", errno);
    }
    m_impl->wake_fd.reset(fd);
    m_impl->set.watch(fd);
    if (signals != nullptr) {
        m_impl->set.watch(signals->fd());
    }
}

ChildRunner::~ChildRunner() = default;

ProcessRunner::Id ChildRunner::start(const ProcessSpec& spec) {
    return m_impl->set.add(Child::spawn(spec.argv, spec.options));
}

ProcessRunner::Wake ChildRunner::wait(std::optional<Clock::time_point> deadline) {
    auto woke = m_impl->set.wait_any(deadline);
    Wake wake;
    for (auto id : woke.exited) {
        wake.exits.push_back({id, *m_impl->set.get(id).status()});
    }
    for (int fd : woke.ready_fds) {
        if (fd == m_impl->wake_fd.get()) {
            std::uint64_t count = 0;
            [[maybe_unused]] ssize_t n = ::read(fd, &count, sizeof count);
            wake.woken = true;
        } else if (m_impl->signals != nullptr && fd == m_impl->signals->fd()) {
            wake.signal = m_impl->signals->take();
        }
    }
    return wake;
}

void ChildRunner::signal_group(Id id, int sig) {
    m_impl->set.get(id).signal_group(sig);
}

void ChildRunner::kill_tree(Id id) {
    m_impl->set.get(id).kill_tree();
}

void ChildRunner::kill_leftovers() {
    envpack::kill_leftovers();
}

void ChildRunner::wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(m_impl->wake_fd.get(), &one, sizeof one);
}

Child& ChildRunner::child(Id id) {
    return m_impl->set.get(id);
}

}  // namespace envpack
