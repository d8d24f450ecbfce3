// The snapshot walker and API: order, rules, digest, limits, layer entries.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "builder/snapshot.h"
#include "core/error.h"
#include "core/fs.h"

using namespace envpack;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& p, std::string_view data) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
}

std::vector<std::string> paths(const SnapshotListing& l, bool with_dirs = false) {
    std::vector<std::string> out;
    for (const auto& e : l.entries) {
        if (with_dirs || e.type != SnapshotEntryType::directory) {
            out.push_back(e.path);
        }
    }
    return out;
}

SnapshotOptions threads(unsigned n) {
    SnapshotOptions o;
    o.threads = n;
    return o;
}

}  // namespace

TEST_CASE("walk: bytewise order, rules per directory, .git left out", "[snapshot]") {
    TempDir tmp("snapshot-test-");
    fs::path r = tmp.path();
    put(r / "a-b", "1");
    put(r / "a" / "x", "2");
    put(r / "a0", "3");
    put(r / "a" / ".git" / "HEAD", "x");
    put(r / ".git" / "config", "x");
    put(r / ".gitignore", "*.log\n/out/\n");
    put(r / "out" / "o.txt", "x");
    put(r / "sub" / "out" / "kept.txt", "x");
    put(r / "sub" / "x.log", "x");
    put(r / "aml" / ".amlignore", "!*.log\nsecret\n");
    put(r / "aml" / ".gitignore", "*\n");
    put(r / "aml" / "y.log", "x");
    put(r / "aml" / "secret", "x");
    put(r / "aml" / "d" / "z.log", "x");
    fs::create_directories(r / "empty");
    fs::create_symlink("a", r / "link-to-dir");
    const std::vector<std::string> want = {
        ".gitignore",     "a-b",         "a/x",       "a0",          "aml/.amlignore",
        "aml/.gitignore", "aml/d/z.log", "aml/y.log", "link-to-dir", "sub/out/kept.txt"};
    for (unsigned n : {1u, 4u}) {
        for (auto detail : {WalkDetail::names, WalkDetail::full}) {
            SnapshotListing l = walk_snapshot(r, Log::null(), threads(n), detail);
            CHECK(paths(l) == want);
            CHECK(l.files == want.size());
        }
        std::vector<std::string> streamed;
        list_snapshot_paths(r, Log::null(), threads(n),
                            [&](std::string_view p) { streamed.emplace_back(p); });
        CHECK(streamed == want);
    }
    SnapshotListing l = walk_snapshot(r, Log::null(), {}, WalkDetail::full);
    auto all = paths(l, true);
    CHECK(std::find(all.begin(), all.end(), "empty") != all.end());
    CHECK(std::is_sorted(all.begin(), all.end()) == false);  // "a" (a directory) before "a-b"
    std::vector<std::string> keys;
    for (const auto& e : l.entries) {
        keys.push_back(e.type == SnapshotEntryType::directory ? e.path + "/" : e.path);
    }
    CHECK(std::is_sorted(keys.begin(), keys.end()));
    auto files = paths(l);
    CHECK(std::is_sorted(files.begin(), files.end()));
    for (const auto& e : l.entries) {
        if (e.path == "link-to-dir") {
            CHECK(e.type == SnapshotEntryType::symlink);
            CHECK(e.link_target == "a");
        }
    }
}

TEST_CASE("walk: bad roots are bad input", "[snapshot]") {
    TempDir tmp("snapshot-test-");
    put(tmp.path() / "file", "x");
    for (auto p : {tmp.path() / "missing", tmp.path() / "file"}) {
        try {
            walk_snapshot(p, Log::null(), {}, WalkDetail::names);
            FAIL("no error for " << p);
        } catch (const Error& e) {
            CHECK(e.code() == ExitCode::bad_input);
        }
    }
}

TEST_CASE("digest: contents, modes and links count; mtimes, order and threads do not",
          "[snapshot]") {
    TempDir t1("snapshot-test-");
    TempDir t2("snapshot-test-");
    put(t1.path() / "d" / "a", "alpha");
    put(t1.path() / "b", "beta");
    put(t2.path() / "b", "beta");
    put(t2.path() / "d" / "a", "alpha");
    fs::last_write_time(t2.path() / "b",
                        fs::file_time_type::clock::now() - std::chrono::hours(1000));
    Digest d1 = make_snapshot(t1.path(), Log::null(), threads(1)).digest;
    CHECK(make_snapshot(t2.path(), Log::null(), threads(3)).digest == d1);
    ::chmod((t2.path() / "b").c_str(), 0755);
    CHECK(make_snapshot(t2.path(), Log::null(), {}).digest != d1);
    ::chmod((t2.path() / "b").c_str(), 0600);  // only the executable bit counts
    CHECK(make_snapshot(t2.path(), Log::null(), {}).digest == d1);
    put(t2.path() / "b", "betb");
    CHECK(make_snapshot(t2.path(), Log::null(), {}).digest != d1);
    put(t2.path() / "b", "beta");
    fs::create_symlink("x", t2.path() / "l");
    Digest with_link = make_snapshot(t2.path(), Log::null(), {}).digest;
    CHECK(with_link != d1);
    fs::remove(t2.path() / "l");
    fs::create_symlink("y", t2.path() / "l");
    CHECK(make_snapshot(t2.path(), Log::null(), {}).digest != with_link);
}

TEST_CASE("limits name the limit, the total and the largest entries", "[snapshot]") {
    TempDir tmp("snapshot-test-");
    put(tmp.path() / "data" / "raw" / "big.bin", std::string(5000, 'x'));
    put(tmp.path() / "data" / "small.bin", std::string(100, 'x'));
    put(tmp.path() / "src" / "a.py", "x");
    SnapshotOptions o;
    o.max_bytes = 4096;
    try {
        make_snapshot(tmp.path(), Log::null(), o);
        FAIL("no limit error");
    } catch (const Error& e) {
        std::string m = e.what();
        CHECK(e.code() == ExitCode::bad_input);
        CHECK(m.find("size limit") != std::string::npos);
        CHECK(m.find("4096 bytes") != std::string::npos);
        CHECK(m.find("5101 bytes") != std::string::npos);
        CHECK(m.find("data/raw/big.bin") != std::string::npos);
        CHECK(m.find("data/  ") != std::string::npos);
        CHECK(std::string(e.hint()).find("--max-bytes") != std::string::npos);
    }
    o.max_bytes = 0;
    o.max_files = 2;
    try {
        make_snapshot(tmp.path(), Log::null(), o);
        FAIL("no limit error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("file limit of 2 files") != std::string::npos);
        CHECK(std::string(e.what()).find("holds 3 files") != std::string::npos);
    }
    o.max_files = 0;
    Snapshot s = make_snapshot(tmp.path(), Log::null(), o);
    CHECK(s.listing.bytes == 5101);
    auto top = largest_files(s.listing, 2);
    REQUIRE(top.size() == 2);
    CHECK(top[0]->path == "data/raw/big.bin");
    CHECK(top[1]->path == "data/small.bin");
}

TEST_CASE("layer entries keep only the executable bit and point at the files", "[snapshot]") {
    TempDir tmp("snapshot-test-");
    put(tmp.path() / "bin" / "run", "#!/bin/sh\n");
    ::chmod((tmp.path() / "bin" / "run").c_str(), 0700);
    put(tmp.path() / "f", "x");
    ::chmod((tmp.path() / "f").c_str(), 0600);
    fs::create_symlink("/etc/passwd", tmp.path() / "out");
    Snapshot s = make_snapshot(tmp.path(), Log::null(), {});
    auto entries = snapshot_layer_entries(s);
    REQUIRE(entries.size() == 4);
    CHECK(entries[0].path == "bin");
    CHECK(entries[0].type == EntryType::directory);
    CHECK(entries[1].mode == 0755);
    CHECK(entries[1].source == tmp.path() / "bin" / "run");
    CHECK(entries[1].expect_mtime_ns.has_value());
    CHECK(entries[2].mode == 0644);
    CHECK(entries[3].type == EntryType::symlink);
    CHECK(entries[3].link_target == "/etc/passwd");
}
