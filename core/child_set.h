// Waiting on many children at once: one poll loop over their pidfds and output pipes, on the
// caller's thread. Output is delivered to each child's sinks as it arrives (the order of lines
// is kept per child; lines of different children interleave as they really came).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "core/child.h"

namespace envpack {

class ChildSet {
  public:
    using Id = std::size_t;
    using Clock = std::chrono::steady_clock;

    // When this process is a child subreaper (process_tree.h), every wait_any() also reaps
    // orphans (reap_orphans()) and wakes at least every 250 ms to do so.
    ChildSet();

    // Takes ownership of a started child. Ids are 0, 1, 2... in the order of add().
    Id add(Child child);
    Child& get(Id id) { return m_children.at(id); }
    const Child& get(Id id) const { return m_children.at(id); }
    std::size_t size() const { return m_children.size(); }
    // Whether every member has been reaped.
    bool all_exited() const;

    // Watches a borrowed fd (a SignalForwarder's, an eventfd): wait_any() returns when it is
    // readable. The caller reads it (or it stays readable).
    void watch(int fd);
    void unwatch(int fd);

    struct Wake {
        std::vector<Id> exited;      // reaped in this call; statuses in get(id).status()
        std::vector<int> ready_fds;  // watched fds that are readable
        bool empty() const { return exited.empty() && ready_fds.empty(); }
    };
    // Pumps stdin data and output of every running member until at least one member exits, a
    // watched fd is readable, or `deadline` passes (then the result is empty). nullopt: no
    // deadline. Returns at once when no member is running and no fd is watched. Members reaped
    // earlier are not reported again. Exceptions thrown by sinks propagate.
    Wake wait_any(std::optional<Clock::time_point> deadline = std::nullopt);

  private:
    std::vector<Child> m_children;
    std::vector<int> m_watched;
    bool m_reap_orphans = false;
};

}  // namespace envpack
