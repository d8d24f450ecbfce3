#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/child.h"
#include "core/fs.h"
#include "core/process_tree.h"
#include "proc_test_util.h"

using namespace envpack;

namespace {
// Zombie children of this process, from /proc.
std::vector<pid_t> zombie_children() {
    std::vector<pid_t> out;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        pid_t pid = std::atoi(e.path().filename().c_str());
        if (pid > 0 && test::proc_ppid(pid) == ::getpid() && test::proc_state(pid) == 'Z') {
            out.push_back(pid);
        }
    }
    return out;
}
}  // namespace

TEST_CASE("A subreaper adopts orphans and reaps them: no zombies left") {
    become_subreaper();
    CHECK(is_subreaper());
    std::vector<std::string> lines;
    ChildOptions o;
    o.out = ChildOutput::lines([&](std::string_view l) { lines.emplace_back(l); });
    // The child starts two background processes and exits: they become orphans.
    auto child = Child::spawn({"sh", "-c", "sleep 30 & echo $!; sleep 30 & echo $!"}, std::move(o));
    REQUIRE(child.wait().ok());
    REQUIRE(lines.size() == 2);
    std::vector<pid_t> orphans{std::stoi(lines[0]), std::stoi(lines[1])};
    for (pid_t pid : orphans) {
        // Reparented to us, not to init.
        CHECK(test::eventually([&] { return test::proc_ppid(pid) == ::getpid(); }));
        CHECK(test::alive(pid));
        ::kill(pid, SIGKILL);
    }
    REQUIRE(test::eventually([&] { return zombie_children().size() >= 2; }));
    auto reaped = reap_orphans();
    std::vector<pid_t> reaped_pids;
    for (auto& [pid, status] : reaped) {
        reaped_pids.push_back(pid);
        if (std::find(orphans.begin(), orphans.end(), pid) != orphans.end()) {
            CHECK(status == ExitStatus::killed(SIGKILL));
        }
    }
    // (Earlier tests in the same binary may have left zombies of their own: those count too.)
    for (pid_t pid : orphans) {
        CHECK(std::find(reaped_pids.begin(), reaped_pids.end(), pid) != reaped_pids.end());
    }
    CHECK(zombie_children().empty());
    for (pid_t pid : orphans) {
        CHECK_FALSE(test::proc_state(pid).has_value());
    }
}

TEST_CASE("reap_orphans leaves live Child handles to their owners") {
    become_subreaper();
    auto child = Child::spawn({"true"});
    REQUIRE(test::eventually([&] { return test::proc_state(child.pid()) == 'Z'; }));
    CHECK(reap_orphans().empty());
    CHECK(child.wait().ok());  // the status is still there for its owner
}

TEST_CASE("kill_leftovers kills a setsid() grandchild whose parent is gone, spares live handles") {
    become_subreaper();
    TempDir dir;
    auto pid_file = dir.path() / "escaped.pid";
    auto keeper = Child::spawn({"sleep", "30"});
    auto child = Child::spawn(
        {"sh", "-c", "setsid sh -c 'echo $$ > \"$0\"; exec sleep 30' " + pid_file.string() + " &"});
    REQUIRE(child.wait().ok());
    pid_t escaped = test::read_pid_file(pid_file);
    REQUIRE(escaped > 0);
    // Alive before, in its own session, adopted by us.
    REQUIRE(test::alive(escaped));
    CHECK(::getsid(escaped) == escaped);
    CHECK(test::eventually([&] { return test::proc_ppid(escaped) == ::getpid(); }));
    auto below = descendants(::getpid());
    CHECK(std::find(below.begin(), below.end(), escaped) != below.end());

    CHECK(kill_leftovers() >= 1);
    // Gone after: killed and reaped, not a zombie.
    CHECK_FALSE(test::proc_state(escaped).has_value());
    CHECK(test::alive(keeper.pid()));
    CHECK(keeper.terminate(std::chrono::milliseconds(1000)) == ExitStatus::killed(SIGTERM));
}

TEST_CASE("kill_tree kills a whole tree, across sessions") {
    become_subreaper();
    // Two levels, one of them in its own session.
    auto child = Child::spawn(
        {"sh", "-c", "sleep 30 & sleep 30 & (sleep 30 & setsid sleep 30 & wait) & wait"});
    REQUIRE(test::eventually([&] { return descendants(child.pid()).size() >= 5; }));
    auto before = descendants(child.pid());
    std::size_t n = kill_tree(child.pid(), KillRoot::yes);
    CHECK(n == before.size() + 1);
    CHECK(child.wait() == ExitStatus::killed(SIGKILL));
    CHECK(test::eventually([&] {
        reap_orphans();
        return std::none_of(before.begin(), before.end(),
                            [](pid_t p) { return test::proc_state(p).has_value(); });
    }));
}
