#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/child.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/process_tree.h"
#include "proc_test_util.h"

using namespace envpack;
using namespace std::chrono_literals;

namespace {
std::vector<std::string> sh(const std::string& script) {
    return {"sh", "-c", script};
}
}  // namespace

TEST_CASE("LineSplitter delivers whole lines, a partial last line at the end") {
    std::vector<std::string> got;
    LineSink sink = [&](std::string_view l) { got.emplace_back(l); };
    LineSplitter s;
    s.feed("a\nb", sink);
    s.feed("c\n\nd", sink);
    CHECK(got == std::vector<std::string>{"a", "bc", ""});
    s.finish(sink);
    CHECK(got == std::vector<std::string>{"a", "bc", "", "d"});
    s.finish(sink);
    CHECK(got.size() == 4);
}

TEST_CASE("LineSplitter cuts a line longer than k_max_line into pieces") {
    std::vector<std::size_t> sizes;
    LineSink sink = [&](std::string_view l) { sizes.push_back(l.size()); };
    LineSplitter s;
    s.feed(std::string(k_max_line + 10, 'x'), sink);
    s.feed("\n", sink);
    CHECK(sizes == std::vector<std::size_t>{k_max_line, 10});
}

TEST_CASE("Child streams stdout and stderr line by line to separate sinks") {
    std::vector<std::string> out, err;
    ChildOptions o;
    o.out = ChildOutput::lines([&](std::string_view l) { out.emplace_back(l); });
    o.err = ChildOutput::lines([&](std::string_view l) { err.emplace_back(l); });
    auto child = Child::spawn(sh("echo one; echo two >&2; printf 'three\\nno newline'; exit 4"),
                              std::move(o));
    CHECK(child.pid() > 0);
    CHECK(child.process_group() == child.pid());
    auto status = child.wait();
    CHECK(status == ExitStatus::exited(4));
    CHECK(status.to_string() == "exit code 4");
    CHECK(out == std::vector<std::string>{"one", "three", "no newline"});
    CHECK(err == std::vector<std::string>{"two"});
    CHECK(child.wait() == status);  // idempotent
}

TEST_CASE("Child merges stderr into stdout keeping their order") {
    std::vector<std::string> lines;
    ChildOptions o;
    o.out = ChildOutput::lines([&](std::string_view l) { lines.emplace_back(l); });
    o.err = ChildOutput::merge();
    auto child =
        Child::spawn(sh("for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done"), std::move(o));
    CHECK(child.wait().ok());
    CHECK(lines == std::vector<std::string>{"out1", "err1", "out2", "err2", "out3", "err3", "out4",
                                            "err4", "out5", "err5"});
}

TEST_CASE("Child feeds stdin data, sets cwd and a cleared environment") {
    TempDir dir;
    std::string got;
    ChildOptions o;
    o.in = ChildInput::data(std::string(300000, 'x'));
    o.cwd = dir.path();
    o.env_base = EnvBase::clear;
    o.env["ONLY"] = "1";
    o.out = ChildOutput::chunks([&](std::string_view b) { got.append(b); });
    auto child = Child::spawn({"/bin/sh", "-c", "wc -c; pwd; env | grep -c ="}, std::move(o));
    CHECK(child.wait().ok());
    // A cleared environment: ONLY plus what sh itself sets (PWD).
    CHECK(got.rfind("300000\n" + std::filesystem::canonical(dir.path()).string() + "\n", 0) == 0);
    CHECK(std::stoi(got.substr(got.rfind('\n', got.size() - 2) + 1)) <= 3);
}

TEST_CASE("Child passes an extra fd and writes to a file") {
    TempDir dir;
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    ChildOptions o;
    o.extra_fds.push_back({p[1], 3});
    o.out = ChildOutput::file(dir.path() / "out.txt");
    auto child = Child::spawn(sh("echo via-fd >&3; echo to-file"), std::move(o));
    ::close(p[1]);
    CHECK(child.wait().ok());
    char buf[64] = {};
    CHECK(::read(p[0], buf, sizeof buf) == 7);
    CHECK(std::string(buf) == "via-fd\n");
    ::close(p[0]);
    CHECK(read_file(dir.path() / "out.txt") == "to-file\n");
}

TEST_CASE("Child::spawn names what could not be started") {
    try {
        Child::spawn({"envpack-no-such-program"});
        FAIL("spawn should throw");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("envpack-no-such-program") != std::string::npos);
    }
    ChildOptions o;
    o.cwd = "/nonexistent/dir";
    CHECK_THROWS_AS(Child::spawn({"true"}, std::move(o)), Error);
    CHECK_THROWS_AS(Child::spawn({}), Error);
}

TEST_CASE("Child::wait_for gives up; terminate kills a child that ignores SIGTERM") {
    std::vector<std::string> out;
    ChildOptions o;
    o.out = ChildOutput::lines([&](std::string_view l) { out.emplace_back(l); });
    auto child =
        Child::spawn(sh("trap '' TERM; echo ready; while :; do sleep 0.05; done"), std::move(o));
    REQUIRE(test::eventually([&] {
        child.try_wait();
        return !out.empty();
    }));
    CHECK_FALSE(child.wait_for(50ms));
    child.signal_group(SIGTERM);
    CHECK_FALSE(child.wait_for(100ms));  // it ignored SIGTERM
    auto start = std::chrono::steady_clock::now();
    auto status = child.terminate(200ms);
    CHECK(status == ExitStatus::killed(SIGKILL));
    CHECK(status.status_code() == 137);
    CHECK(status.to_string() == "killed by SIGKILL");
    CHECK(std::chrono::steady_clock::now() - start >= 200ms);
    CHECK(out == std::vector<std::string>{"ready"});
}

TEST_CASE("Child::wait returns when the child exits even if a leftover holds its pipe") {
    std::vector<std::string> out;
    ChildOptions o;
    o.out = ChildOutput::lines([&](std::string_view l) { out.emplace_back(l); });
    auto child = Child::spawn(sh("sleep 30 & echo $!; echo last"), std::move(o));
    auto status = child.wait();
    CHECK(status.ok());
    REQUIRE(out.size() == 2);
    CHECK(out[1] == "last");
    pid_t leftover = std::stoi(out[0]);
    CHECK(test::alive(leftover));  // it held the pipe, and wait() did not wait for it
    ::kill(-child.process_group(), SIGKILL);
}

TEST_CASE("Child::kill_tree kills a grandchild that called setsid()") {
    become_subreaper();  // so the killed grandchild is ours to reap (PID 1 here does not reap)
    TempDir dir;
    auto pid_file = dir.path() / "grandchild.pid";
    auto child = Child::spawn(
        sh("setsid sh -c 'echo $$ > \"$0\"; exec sleep 30' " + pid_file.string() + " & wait"));
    pid_t grandchild = test::read_pid_file(pid_file);
    REQUIRE(grandchild > 0);
    REQUIRE(test::alive(grandchild));
    // It left our child's session and process group: a group signal would not reach it.
    CHECK(::getsid(grandchild) == grandchild);
    CHECK(::getpgid(grandchild) != child.process_group());

    child.kill_tree();
    CHECK(child.wait() == ExitStatus::killed(SIGKILL));
    CHECK(test::eventually([&] {
        reap_orphans();
        return !test::proc_state(grandchild).has_value();
    }));
}

TEST_CASE("A dropped Child handle leaves no process behind") {
    pid_t pid = -1;
    {
        auto child = Child::spawn({"sleep", "30"});
        pid = child.pid();
        CHECK(test::alive(pid));
    }
    CHECK_FALSE(test::proc_state(pid).has_value());  // killed and reaped by the destructor
}

TEST_CASE("Child groupings: own group, own session, or ours; stdin from a borrowed fd") {
    auto grouped = Child::spawn({"sleep", "30"});
    CHECK(::getpgid(grouped.pid()) == grouped.pid());
    CHECK(::getsid(grouped.pid()) == ::getsid(0));

    ChildOptions session;
    session.grouping = Grouping::new_session;
    auto leader = Child::spawn({"sleep", "30"}, std::move(session));
    CHECK(::getsid(leader.pid()) == leader.pid());

    ChildOptions ours;
    ours.grouping = Grouping::same_group;
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    ours.in = ChildInput::fd(p[0]);
    std::string got;
    ours.out = ChildOutput::chunks([&](std::string_view b) { got.append(b); });
    auto same = Child::spawn({"cat"}, std::move(ours));
    CHECK(same.process_group() == ::getpgrp());
    ::close(p[0]);
    CHECK(::write(p[1], "piped\n", 6) == 6);
    ::close(p[1]);
    CHECK(same.wait().ok());
    CHECK(got == "piped\n");

    CHECK(grouped.terminate(std::chrono::seconds(5)) == ExitStatus::killed(SIGTERM));
    CHECK(leader.terminate(std::chrono::seconds(5)) == ExitStatus::killed(SIGTERM));
}
