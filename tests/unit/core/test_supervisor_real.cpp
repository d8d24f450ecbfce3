// The Supervisor over real children (ChildRunner): the same policies as the fake tests, proven
// with real processes, signals and logs.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "core/process_log.h"
#include "core/process_tree.h"
#include "core/signals.h"
#include "core/supervisor.h"
#include "proc_test_util.h"

using namespace envpack;
using namespace std::chrono_literals;

namespace {
ProcessSpec sh(std::string label, std::string script) {
    ProcessSpec s;
    s.label = std::move(label);
    s.argv = {"sh", "-c", std::move(script)};
    return s;
}
}  // namespace

TEST_CASE("Supervisor (real): one of many fails, the rest are stopped") {
    ChildRunner runner;
    SupervisorOptions options;
    options.grace = 5s;
    Supervisor sup(runner, options);
    std::vector<pid_t> pids;
    for (int i = 0; i < 4; ++i) {
        sup.start(sh("rank " + std::to_string(i), i == 2 ? "sleep 0.1; exit 3" : "exec sleep 30"));
        pids.push_back(runner.child(i).pid());
    }
    auto start = std::chrono::steady_clock::now();
    auto r = sup.run();
    CHECK(r.end == JobEnd::failed);
    CHECK(r.exit_code == 3);
    CHECK(r.first_failure == 2u);
    for (int i : {0, 1, 3}) {
        CHECK(r.processes[i].stopped);
        CHECK(r.processes[i].status == ExitStatus::killed(SIGTERM));
        CHECK_FALSE(test::proc_state(pids[i]).has_value());
    }
    CHECK(std::chrono::steady_clock::now() - start < 5s);  // SIGTERM sufficed: no grace wait
}

TEST_CASE("Supervisor (real): a child that ignores SIGTERM is killed after the grace") {
    ChildRunner runner;
    SupervisorOptions options;
    options.grace = 300ms;
    Supervisor sup(runner, options);
    TempDir dir;
    auto ready = (dir.path() / "ready").string();
    std::vector<std::string> out;
    auto stubborn = sh("stubborn", "trap '' TERM; echo ready; echo x > " + ready +
                                       "; while :; do sleep 0.05; done");
    stubborn.options.out = ChildOutput::lines([&](std::string_view l) { out.emplace_back(l); });
    sup.start(std::move(stubborn));
    // Fails once the stubborn one has set its trap.
    sup.start(sh("rank 0", "while [ ! -s " + ready + " ]; do sleep 0.01; done; exit 5"));
    auto r = sup.run();
    CHECK(r.exit_code == 5);
    CHECK(r.processes[0].status == ExitStatus::killed(SIGKILL));
    CHECK(out == std::vector<std::string>{"ready"});
}

TEST_CASE("Supervisor (real): SIGTERM to the launcher stops the job and gives 143") {
    SignalForwarder forwarder;
    ChildRunner runner(&forwarder);
    SupervisorOptions options;
    options.grace = 5s;
    Supervisor sup(runner, options);
    sup.start(sh("rank 0", "exec sleep 30"));
    sup.start(sh("rank 1", "exec sleep 30"));
    // A task that sends SIGTERM to us (its parent), as `envpack cancel` or a scheduler would.
    sup.start(sh("canceller", "kill -TERM $PPID"));
    auto r = sup.run();
    CHECK(r.end == JobEnd::interrupted);
    CHECK(r.signal == SIGTERM);
    CHECK(r.exit_code == 143);
    CHECK(r.processes[0].status == ExitStatus::killed(SIGTERM));
    CHECK(r.processes[1].status == ExitStatus::killed(SIGTERM));
}

TEST_CASE("Supervisor (real): leftovers of a finished job are killed, even after setsid()") {
    become_subreaper();
    TempDir dir;
    auto pid_file = dir.path() / "escaped.pid";
    ChildRunner runner;
    Supervisor sup(runner);
    sup.start(sh("rank 0", "setsid sh -c 'echo $$ > \"$0\"; exec sleep 30' " + pid_file.string() +
                               " & while [ ! -s " + pid_file.string() + " ]; do sleep 0.01; done"));
    auto r = sup.run();
    CHECK(r.exit_code == 0);
    pid_t escaped = test::read_pid_file(pid_file);
    REQUIRE(escaped > 0);
    CHECK_FALSE(test::proc_state(escaped).has_value());
}

TEST_CASE("ProcessLogs: a log file per process and a prefixed console") {
    TempDir dir;
    int console[2];
    REQUIRE(::pipe2(console, O_CLOEXEC | O_NONBLOCK) == 0);
    {
        ProcessLogs logs(dir.path() / "logs", ConsoleEcho::yes, console[1]);
        ChildRunner runner;
        Supervisor sup(runner);
        for (int i = 0; i < 2; ++i) {
            auto spec = sh("rank " + std::to_string(i),
                           "echo hello from " + std::to_string(i) + "; printf 'partial'");
            spec.options.out =
                ChildOutput::lines(logs.sink(spec.label, "rank-" + std::to_string(i)));
            spec.options.err = ChildOutput::merge();
            sup.start(std::move(spec));
        }
        CHECK(sup.run().exit_code == 0);
        CHECK_FALSE(logs.error());
    }
    ::close(console[1]);
    CHECK(read_file(dir.path() / "logs" / "rank-0.log") == "hello from 0\npartial\n");
    CHECK(read_file(dir.path() / "logs" / "rank-1.log") == "hello from 1\npartial\n");
    std::string text(4096, '\0');
    text.resize(static_cast<std::size_t>(::read(console[0], text.data(), text.size())));
    ::close(console[0]);
    for (const char* line : {"[rank 0] hello from 0\n", "[rank 0] partial\n",
                             "[rank 1] hello from 1\n", "[rank 1] partial\n"}) {
        CHECK(text.find(line) != std::string::npos);
    }
    CHECK(text.size() == 2 * (22 + 17));
}

TEST_CASE("LineLog keeps the first write error and drops later lines") {
    auto log = LineLog::open("/dev/full");
    log->write_line("x");
    REQUIRE(log->error());
    CHECK(log->error()->find("/dev/full") != std::string::npos);
    CHECK_THROWS_AS(LineLog::open("/nonexistent/dir/x.log"), Error);
}
