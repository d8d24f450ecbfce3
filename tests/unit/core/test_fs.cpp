#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"

using namespace envpack;
namespace fs = std::filesystem;

TEST_CASE("AtomicFile appears only on commit and leaves nothing when abandoned") {
    TempDir dir;
    fs::path target = dir.path() / "out.txt";
    {
        AtomicFile f(target);
        f.write("partial");
        CHECK_FALSE(fs::exists(target));
    }
    CHECK_FALSE(fs::exists(target));
    CHECK(fs::is_empty(dir.path()));
    {
        AtomicFile f(target);
        f.write("complete");
        f.commit();
    }
    CHECK(read_file(target) == "complete");
    CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("write_file_atomic replaces an existing file") {
    TempDir dir;
    fs::path p = dir.path() / "f";
    write_file_atomic(p, "one");
    write_file_atomic(p, "two");
    CHECK(read_file(p) == "two");
}

TEST_CASE("read_file names the missing path") {
    try {
        read_file("/nonexistent/envpack-test");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("/nonexistent/envpack-test") != std::string::npos);
        CHECK(e.code() == ExitCode::bad_input);
    }
}

TEST_CASE("FileLock excludes another process") {
    // flock(1) from util-linux stands in for a second envpack process.
    TempDir dir;
    fs::path lock = dir.path() / "lock";
    {
        FileLock held(lock, LockMode::exclusive);
        CHECK(run_process({"flock", "-n", lock.string(), "true"}).exit_code == 1);
        CHECK(run_process({"flock", "-n", "-s", lock.string(), "true"}).exit_code == 1);
    }
    CHECK(run_process({"flock", "-n", lock.string(), "true"}).ok());
    {
        FileLock shared(lock, LockMode::shared);
        CHECK(run_process({"flock", "-n", "-s", lock.string(), "true"}).ok());
        CHECK(run_process({"flock", "-n", lock.string(), "true"}).exit_code == 1);
    }
}

TEST_CASE("format_parse_error shows the line and a caret") {
    std::string s = format_parse_error("env.yml", 3, 5, "unknown key `foo`", "  foo: 1");
    CHECK(s == "env.yml:3:5: unknown key `foo`\n    foo: 1\n      ^");
}
