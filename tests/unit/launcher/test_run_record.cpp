#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "launcher/run_record.h"

using namespace envpack;
namespace fs = std::filesystem;

TEST_CASE("RunStatus: JSON round trip keeps every field") {
    RunStatus s;
    s.id = "20261201-072127.123-3f9a";
    s.name = "train";
    s.phase = RunPhase::finished;
    s.created_at = "2026-12-01T07:21:27.123Z";
    s.started_at = "2026-12-01T07:21:28.000Z";
    s.finished_at = "2026-12-01T07:21:29.500Z";
    s.exit_code = 3;
    s.reason = "failed";
    s.message = "rank 1 exited with code 3";
    s.image = "demo/env:1";
    s.image_digest = "sha256:abc";
    s.snapshot_digest = "sha256:def";
    s.runtime = "runc";
    s.rootfs = "overlay";
    s.containers = {"envpack-x-node0"};
    s.processes = {"rank-0", "rank-1"};
    s.supervisor_pid = 42;
    s.supervisor_start = 123456;
    s.detached = true;
    auto back = RunStatus::parse(s.to_json(), "test");
    CHECK(back.to_json() == s.to_json());
    CHECK(back.exit_code == 3);
    CHECK(back.phase == RunPhase::finished);
    CHECK(back.processes == s.processes);

    RunStatus fresh;
    fresh.id = "x";
    CHECK_FALSE(RunStatus::parse(fresh.to_json(), "test").exit_code.has_value());
}

TEST_CASE("RunStatus::parse rejects what is not a status, naming the file") {
    for (auto text : {"", "[]", "{\"id\": \"x\"}", "{\"id\": \"x\", \"phase\": \"done\"}"}) {
        try {
            RunStatus::parse(text, "runs/x/status.json");
            FAIL("accepted: " << text);
        } catch (const Error& e) {
            CHECK(e.code() == ExitCode::bad_input);
            CHECK(std::string(e.what()).find("runs/x/status.json") != std::string::npos);
        }
    }
}

TEST_CASE("make_run_id sorts by time and carries the suffix") {
    // 2026-12-01T07:21:27.123Z
    long long t = 1796109687123LL;
    CHECK(make_run_id(t, 0x3f9a) == "20261201-072127.123-3f9a");
    CHECK(make_run_id(t, 0x13f9a) == "20261201-072127.123-3f9a");
    CHECK(make_run_id(t + 1, 0) > make_run_id(t, 0xffff));
    CHECK(make_run_id(t + 1000, 0) > make_run_id(t + 999, 0xffff));
}

TEST_CASE("owner_from takes SUDO_UID/SUDO_GID only when both are numbers") {
    auto o = owner_from("1000", "100");
    REQUIRE(o);
    CHECK(o->uid == 1000);
    CHECK(o->gid == 100);
    CHECK_FALSE(owner_from(nullptr, "100"));
    CHECK_FALSE(owner_from("1000", ""));
    CHECK_FALSE(owner_from("10x", "100"));
    CHECK_FALSE(owner_from("-1", "100"));
}

TEST_CASE("RunRecord: create gives unique IDs, open finds them by prefix, list sorts") {
    TempDir home("envpack-record-");
    std::set<std::string> ids;
    std::vector<std::string> order;
    for (int i = 0; i < 20; ++i) {
        auto r = RunRecord::create(home.path());
        CHECK(fs::is_directory(r.logs_dir()));
        CHECK(fs::is_directory(r.outputs_dir()));
        RunStatus s;
        s.id = r.id();
        s.created_at = now_rfc3339();
        r.write_status(s);
        ids.insert(r.id());
        order.push_back(r.id());
    }
    CHECK(ids.size() == 20);
    auto listed = RunRecord::list(home.path());
    REQUIRE(listed.size() == 20);
    CHECK(std::is_sorted(listed.begin(), listed.end(),
                         [](const auto& a, const auto& b) { return a.id < b.id; }));
    auto one = RunRecord::open(home.path(), order[3]);
    CHECK(one.read_status().id == order[3]);
    try {
        RunRecord::open(home.path(), "nope");
        FAIL("opened an unknown run");
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::bad_input);
    }
    CHECK_THROWS_AS(RunRecord::open(home.path(), "2"), Error);  // ambiguous prefix
    CHECK_THROWS_AS(RunRecord::open(home.path(), "../x"), Error);
}

TEST_CASE("supervisor_alive: this process is, a made-up start time is not") {
    RunStatus s;
    s.supervisor_pid = ::getpid();
    s.supervisor_start = process_start_time(::getpid());
    CHECK(s.supervisor_start != 0);
    CHECK(supervisor_alive(s));
    s.supervisor_start += 1;
    CHECK_FALSE(supervisor_alive(s));
    s.supervisor_pid = 0;
    CHECK_FALSE(supervisor_alive(s));
}
