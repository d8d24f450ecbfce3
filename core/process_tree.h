// Processes as a tree: becoming a child subreaper, reaping orphans, and killing every descendant
// (including ones that left the process group or called setsid()), by walking /proc.
//
// Why /proc and not the process group: a grandchild that calls setsid() leaves the group, and a
// process whose parent died is reparented away from its group leader. As a child subreaper, this
// process adopts such orphans, so "everything below us" stays findable through PPid links.
// (A cgroup would do the same and survive a double fork to init; it needs cgroup delegation
// this machine's hybrid hierarchy does not give, see NOTES.md.)
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <set>
#include <utility>
#include <vector>

#include "core/child.h"

namespace envpack {

// Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER): orphaned descendants are
// reparented to it instead of to init. Throws Error if the kernel refuses.
void become_subreaper();
bool is_subreaper();

// Reaps, without blocking, every zombie child of this process that no live Child handle owns
// (orphans adopted as subreaper, detached children). Returns each one's pid and status.
// Children started outside Child (plain fork/posix_spawn elsewhere) would be reaped too: start
// children through Child.
std::vector<std::pair<pid_t, ExitStatus>> reap_orphans();

// Every process below `root` as /proc shows it now (children before grandchildren), not
// entering the subtrees of pids in `spare`.
std::vector<pid_t> descendants(pid_t root, const std::set<pid_t>& spare = {});

enum class KillRoot { yes, no };
// Sends SIGKILL to every descendant of `root` (and to `root` with KillRoot::yes). To leave no
// window for a fork or an escape, each one is first stopped (SIGSTOP, waited until it shows as
// stopped) and the tree walked again until it holds nothing new; then all are killed. Subtrees of
// `spare` are not touched. Does not wait for them to die or reap them. Returns how many were
// signalled. Never throws (processes that vanish meanwhile are skipped).
std::size_t kill_tree(pid_t root, KillRoot with_root, const std::set<pid_t>& spare = {});

// Kills what children left behind: every descendant of this process except the live Child
// handles (and their subtrees), then reaps what it can. Useful as a subreaper at the end of a
// job. Returns how many were signalled.
std::size_t kill_leftovers();

// The pids of the live Child handles of this process (their subtrees are spared above).
std::set<pid_t> live_child_pids();

}  // namespace envpack
