#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "builder/conda_package.h"
#include "builder/package_cache.h"
#include "core/error.h"
#include "core/fs.h"

using namespace envpack;
namespace fs = std::filesystem;

namespace {

// Runs the fixture generator on `spec` (JSON) into `channel`.
void make_packages(const fs::path& channel, const std::string& spec) {
    fs::path spec_file = channel.parent_path() / "spec.json";
    write_file_atomic(spec_file, spec, Durability::none);
    std::string cmd =
        fmt::format("/usr/bin/python3 {}/tests/fixtures/make_conda_pkg.py {} {} >/dev/null",
                    ENVPACK_SOURCE_DIR, spec_file.string(), channel.string());
    REQUIRE(std::system(cmd.c_str()) == 0);
}

PackageSource source_for(const fs::path& file, const std::string& name) {
    return {name, "file://" + file.string(), file_sha256_hex(file), ""};
}

const char* k_good =
    R"([{"name": "good", "version": "1.0", "build": "0", "formats": ["conda", "tar.bz2"],
  "files": {"bin/good": {"text": "#!/bin/sh\necho good\n", "mode": 493}, "share/a.txt": {"text": "aaaa"}},
  "symlinks": {"bin/g": "good"}}])";

}  // namespace

TEST_CASE("package cache: fetch, verify, extract once, reuse") {
    TempDir tmp;
    make_packages(tmp.path() / "ch", k_good);
    fs::path file = tmp.path() / "ch" / "linux-64" / "good-1.0-0.conda";
    Log log;
    PackageCache cache({tmp.path() / "pkgs", 2}, nullptr, log);
    auto src = source_for(file, "good");
    fs::path dir = cache.ensure_one(src);
    REQUIRE(dir == tmp.path() / "pkgs" / "good-1.0-0");
    REQUIRE(read_file(dir / "bin" / "good") == "#!/bin/sh\necho good\n");
    REQUIRE(fs::is_symlink(dir / "bin" / "g"));
    REQUIRE(cache.stats().downloaded == 1);
    REQUIRE(cache.stats().extracted == 1);
    cache.ensure_one(src);
    REQUIRE(cache.stats().reused == 1);
    REQUIRE(cache.stats().downloaded == 1);

    SECTION("a damaged extraction is detected and extracted again") {
        write_file_atomic(dir / "share" / "a.txt", "a", Durability::none);
        cache.ensure_one(src);
        REQUIRE(cache.stats().repaired == 1);
        REQUIRE(read_file(dir / "share" / "a.txt") == "aaaa");
    }
    SECTION("a corrupt cached file is fetched again") {
        fs::remove_all(dir);
        write_file_atomic(tmp.path() / "pkgs" / "good-1.0-0.conda", "garbage", Durability::none);
        cache.ensure_one(src);
        REQUIRE(cache.stats().downloaded == 2);
        REQUIRE(read_file(dir / "share" / "a.txt") == "aaaa");
    }
    SECTION("md5 when there is no sha256") {
        PackageSource by_md5{"good", file.string(), "", file_md5_hex(file)};
        PackageCache c2({tmp.path() / "pkgs2", 1}, nullptr, log);
        REQUIRE(fs::exists(c2.ensure_one(by_md5) / "bin" / "good"));
    }
}

TEST_CASE("package cache: a hash mismatch is an error and leaves nothing behind") {
    TempDir tmp;
    make_packages(tmp.path() / "ch", k_good);
    fs::path file = tmp.path() / "ch" / "linux-64" / "good-1.0-0.tar.bz2";
    Log log;
    PackageCache cache({tmp.path() / "pkgs", 2}, nullptr, log);
    auto src = source_for(file, "good");
    src.sha256 = std::string(64, 'a');
    try {
        cache.ensure_one(src);
        FAIL("no error");
    } catch (const Error& e) {
        std::string msg = e.what();
        REQUIRE(msg.find("hash mismatch") != std::string::npos);
        REQUIRE(msg.find(std::string(64, 'a')) != std::string::npos);
    }
    REQUIRE_FALSE(fs::exists(tmp.path() / "pkgs" / "good-1.0-0.tar.bz2"));
    REQUIRE_FALSE(fs::exists(tmp.path() / "pkgs" / "good-1.0-0"));
    SECTION("a file missing from the channel") {
        auto missing = source_for(file, "good");
        missing.url = "file://" + (tmp.path() / "ch" / "linux-64" / "nope-1-0.tar.bz2").string();
        REQUIRE_THROWS_WITH(cache.ensure_one(missing),
                            Catch::Contains("no such file in the channel"));
    }
}

TEST_CASE("package cache: concurrent users of one package") {
    TempDir tmp;
    make_packages(tmp.path() / "ch", k_good);
    fs::path file = tmp.path() / "ch" / "linux-64" / "good-1.0-0.conda";
    Log log;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] {
            PackageCache cache({tmp.path() / "pkgs", 1}, nullptr, log);
            if (fs::exists(cache.ensure_one(source_for(file, "good")) / "bin" / "good")) {
                ++ok;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    REQUIRE(ok == 4);
}

TEST_CASE("unsafe packages are refused, naming the package and the entry") {
    struct Case {
        const char* raw;
        const char* entry;
    };
    auto c = GENERATE(Case{R"({"path": "../evil", "text": "x"})", "../evil"},
                      Case{R"({"path": "/etc/evil", "text": "x"})", "/etc/evil"},
                      Case{R"({"path": "lib/up", "symlink": "../../.."})", "lib/up"},
                      Case{R"({"path": "lib/abs", "symlink": "/etc/passwd"})", "lib/abs"});
    auto fmt_ = GENERATE(std::string("conda"), std::string("tar.bz2"));
    TempDir tmp;
    make_packages(tmp.path() / "ch",
                  fmt::format(R"([{{"name": "evil", "version": "1", "build": "0", "formats": ["{}"],
                     "files": {{"ok.txt": {{"text": "fine"}}}}, "raw": [{}]}}])",
                              fmt_, c.raw));
    fs::path file = tmp.path() / "ch" / "linux-64" / ("evil-1-0." + fmt_);
    Log log;
    PackageCache cache({tmp.path() / "pkgs", 1}, nullptr, log);
    try {
        cache.ensure_one(source_for(file, "evil"));
        FAIL("unsafe package accepted");
    } catch (const Error& e) {
        std::string msg = e.what();
        INFO(msg);
        REQUIRE(e.code() == ExitCode::bad_input);
        REQUIRE(msg.find("evil-1-0." + fmt_) != std::string::npos);
        REQUIRE(msg.find(fmt::format("`{}`", c.entry)) != std::string::npos);
    }
    REQUIRE_FALSE(fs::exists(tmp.path() / "pkgs" / "evil-1-0"));
    REQUIRE_FALSE(fs::exists(tmp.path() / "etc"));
}

TEST_CASE("symlink targets are resolved lexically inside the package") {
    REQUIRE(resolve_link_inside("bin/hi", "hello") == "bin/hello");
    REQUIRE(resolve_link_inside("lib/a/b", "../../share/x") == "share/x");
    REQUIRE_FALSE(resolve_link_inside("lib/a", "../../x"));
    REQUIRE_FALSE(resolve_link_inside("a", "/etc/passwd"));
    REQUIRE(resolve_link_inside("a", ".") == "");
}
