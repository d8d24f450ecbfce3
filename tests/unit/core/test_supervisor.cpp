#include <catch2/catch.hpp>

#include <signal.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/fake_runner.h"
#include "core/supervisor.h"

using namespace envpack;
using namespace std::chrono_literals;

namespace {
ProcessSpec task(std::string label) {
    ProcessSpec s;
    s.label = std::move(label);
    s.argv = {"train"};
    return s;
}
ProcessSpec service(std::string label) {
    auto s = task(std::move(label));
    s.lifetime = Lifetime::service;
    return s;
}
FakeBehaviour exits(std::chrono::milliseconds after, int code) {
    FakeBehaviour b;
    b.exits_after = after;
    b.exit_code = code;
    return b;
}
FakeBehaviour ignores_term() {
    FakeBehaviour b;
    b.on_sigterm = OnSigterm::ignore;
    return b;
}
SupervisorOptions grace(std::chrono::milliseconds g) {
    SupervisorOptions o;
    o.grace = g;
    return o;
}
}  // namespace

TEST_CASE("Supervisor (fake): one of many fails, the rest are stopped, its code is the job's") {
    FakeProcessRunner fake;
    fake.set("rank 1", exits(100ms, 3));
    fake.set("rank 2", exits(500ms, 0));
    std::vector<JobEnd> stops;
    auto options = grace(1000ms);
    options.on_stop = [&](JobEnd why) { stops.push_back(why); };
    Supervisor sup(fake, options);
    for (int i = 0; i < 4; ++i) {
        sup.start(task("rank " + std::to_string(i)));
    }
    auto r = sup.run();
    CHECK(r.end == JobEnd::failed);
    CHECK(r.exit_code == 3);
    CHECK(r.first_failure == 1u);
    CHECK(stops == std::vector<JobEnd>{JobEnd::failed});
    CHECK(r.processes[0].stopped);
    CHECK_FALSE(r.processes[1].stopped);
    CHECK(r.processes[0].status == ExitStatus::killed(SIGTERM));
    CHECK(r.summary() == "rank 1 failed (exit code 3); stopped rank 0, rank 2, rank 3");
    CHECK(fake.events() == std::vector<std::string>{
                               "0 start rank 0",
                               "0 start rank 1",
                               "0 start rank 2",
                               "0 start rank 3",
                               "100 exit rank 1 (exit code 3)",
                               "100 signal rank 0 SIGTERM",
                               "100 exit rank 0 (killed by SIGTERM)",
                               "100 signal rank 2 SIGTERM",
                               "100 exit rank 2 (killed by SIGTERM)",
                               "100 signal rank 3 SIGTERM",
                               "100 exit rank 3 (killed by SIGTERM)",
                               "100 kill leftovers",
                           });
}

TEST_CASE("Supervisor (fake): a process that ignores SIGTERM is killed after the grace") {
    FakeProcessRunner fake;
    fake.set("rank 0", exits(50ms, 1));
    fake.set("stubborn", ignores_term());
    Supervisor sup(fake, grace(2000ms));
    sup.start(task("rank 0"));
    sup.start(task("stubborn"));
    auto r = sup.run();
    CHECK(r.exit_code == 1);
    CHECK(r.processes[1].status == ExitStatus::killed(SIGKILL));
    CHECK(fake.events()[3] == "50 signal stubborn SIGTERM");
    CHECK(fake.events()[4] == "2050 kill stubborn");
}

TEST_CASE("Supervisor (fake): success stops the services; their status does not count") {
    FakeProcessRunner fake;
    fake.set("worker 0", exits(300ms, 0));
    fake.set("worker 1", exits(200ms, 0));
    Supervisor sup(fake, grace(1000ms));
    sup.start(service("ps 0"));
    sup.start(task("worker 0"));
    sup.start(task("worker 1"));
    auto r = sup.run();
    CHECK(r.end == JobEnd::succeeded);
    CHECK(r.exit_code == 0);
    CHECK(r.processes[0].stopped);
    CHECK(r.processes[0].status == ExitStatus::killed(SIGTERM));
    CHECK(fake.elapsed() == 300ms);
}

TEST_CASE("Supervisor (fake): a service that fails fails the job") {
    FakeProcessRunner fake;
    fake.set("ps 0", exits(10ms, 2));
    Supervisor sup(fake, grace(1000ms));
    sup.start(service("ps 0"));
    sup.start(task("worker 0"));
    auto r = sup.run();
    CHECK(r.end == JobEnd::failed);
    CHECK(r.exit_code == 2);
}

TEST_CASE("Supervisor (fake): a killed rank reports 128+N") {
    FakeProcessRunner fake;
    Supervisor sup(fake, grace(1000ms));
    sup.start(task("rank 0"));
    sup.start(task("rank 1"));
    fake.signal_group(1, SIGKILL);  // as if the OOM killer struck
    auto r = sup.run();
    CHECK(r.exit_code == 137);
    CHECK(r.summary() == "rank 1 failed (killed by SIGKILL); stopped rank 0");
}

TEST_CASE("Supervisor (fake): the job timeout stops everything with 124") {
    FakeProcessRunner fake;
    auto options = grace(500ms);
    options.timeout = 60s;
    Supervisor sup(fake, options);
    sup.start(task("rank 0"));
    auto r = sup.run();
    CHECK(r.end == JobEnd::timed_out);
    CHECK(r.exit_code == 124);
    CHECK(fake.events()[1] == "60000 signal rank 0 SIGTERM");
}

TEST_CASE("Supervisor (fake): a signal stops the job with 128+N; a second one kills at once") {
    FakeProcessRunner fake;
    fake.set("rank 0", ignores_term());
    fake.signal_at(1000ms, SIGINT);
    fake.signal_at(1500ms, SIGINT);
    Supervisor sup(fake, grace(10s));
    sup.start(task("rank 0"));
    auto r = sup.run();
    CHECK(r.end == JobEnd::interrupted);
    CHECK(r.signal == SIGINT);
    CHECK(r.exit_code == 130);
    CHECK(r.summary() == "interrupted by SIGINT; stopped rank 0");
    CHECK(fake.elapsed() == 1500ms);  // not the 10 s grace
    CHECK(fake.events()[3] == "1500 received SIGINT");
    CHECK(fake.events()[4] == "1500 kill rank 0");
}

TEST_CASE("Supervisor (fake): request_stop acts as a signal") {
    FakeProcessRunner fake;
    Supervisor sup(fake, grace(1s));
    sup.start(task("rank 0"));
    sup.request_stop(SIGTERM);
    auto r = sup.run();
    CHECK(r.exit_code == 143);
    CHECK(fake.elapsed() == 0ms);
}

TEST_CASE("Supervisor (fake): a process that cannot start; the destructor stops the others") {
    FakeProcessRunner fake;
    FakeBehaviour broken;
    broken.cannot_start = true;
    fake.set("rank 1", broken);
    {
        Supervisor sup(fake, grace(1s));
        sup.start(task("rank 0"));
        CHECK_THROWS_AS(sup.start(task("rank 1")), Error);
    }
    CHECK(fake.events() == std::vector<std::string>{
                               "0 start rank 0",
                               "0 cannot start rank 1",
                               "0 signal rank 0 SIGTERM",
                               "0 exit rank 0 (killed by SIGTERM)",
                               "0 kill leftovers",
                           });
}

TEST_CASE("Supervisor (fake): output lines reach the process's sink") {
    FakeProcessRunner fake;
    auto talker = exits(1ms, 0);
    talker.lines = {"hello", "world"};
    fake.set("rank 0", talker);
    std::vector<std::string> got;
    auto spec = task("rank 0");
    spec.options.out = ChildOutput::lines([&](std::string_view l) { got.emplace_back(l); });
    Supervisor sup(fake);
    sup.start(spec);
    CHECK(sup.run().exit_code == 0);
    CHECK(got == std::vector<std::string>{"hello", "world"});
}
