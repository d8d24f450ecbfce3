#include <catch2/catch.hpp>

#include <chrono>

#include "core/error.h"
#include "core/process.h"

using namespace envpack;

TEST_CASE("run_process captures output and exit codes") {
    auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
    CHECK(r.exit_code == 3);
    CHECK(r.out == "out\n");
    CHECK(r.err == "err\n");
    CHECK_FALSE(r.ok());
}

TEST_CASE("run_process feeds stdin and sets the environment") {
    ProcessOptions o;
    o.stdin_data = std::string(200000, 'x');
    o.env["ENVPACK_T"] = "v";
    auto r = run_process({"sh", "-c", "wc -c; echo $ENVPACK_T"}, o);
    CHECK(r.ok());
    CHECK(r.out == "200000\nv\n");
}

TEST_CASE("run_process kills the whole process group on timeout") {
    ProcessOptions o;
    o.timeout = std::chrono::milliseconds(300);
    o.kill_grace = std::chrono::milliseconds(200);
    auto start = std::chrono::steady_clock::now();
    // The child ignores TERM, and its own child keeps the output pipe open.
    auto r = run_process({"sh", "-c", "trap '' TERM; sleep 30 & sleep 30"}, o);
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(r.timed_out);
    CHECK_FALSE(r.ok());
    CHECK(elapsed < std::chrono::seconds(5));
}

TEST_CASE("run_process reports a missing program") {
    CHECK_THROWS_AS(run_process({"envpack-no-such-program"}), Error);
    CHECK_FALSE(find_in_path("envpack-no-such-program"));
    CHECK(find_in_path("sh"));
}
