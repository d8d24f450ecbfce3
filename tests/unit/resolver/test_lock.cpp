// The lock pipeline (resolver/lock.h): solving a local channel, preferring an old lock's
// versions, freshness (content, includes, virtual packages, platforms, moved local channels),
// ensure_lock's three modes, portable URLs and the lock's custom metadata round trip.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "resolver/lock.h"

using namespace envpack;
namespace fs = std::filesystem;

namespace {

struct Pkg {
    std::string name, version;
    std::vector<std::string> depends;
};

// A local channel `dir/channel` with linux-64 records (no package files: solving needs none).
void write_channel(const fs::path& dir, const std::vector<Pkg>& pkgs) {
    nlohmann::json packages = nlohmann::json::object();
    for (const auto& p : pkgs) {
        const std::string fn = p.name + "-" + p.version + "-0.tar.bz2";
        packages[fn] = {{"name", p.name},
                        {"version", p.version},
                        {"build", "0"},
                        {"build_number", 0},
                        {"depends", p.depends},
                        {"md5", std::string(32, 'a')},
                        {"sha256", std::string(64, 'b')},
                        {"subdir", "linux-64"}};
    }
    for (const std::string subdir : {"linux-64", "noarch"}) {
        make_dirs(dir / "channel" / subdir);
        nlohmann::json r = {{"info", {{"subdir", subdir}}},
                            {"packages", subdir == "noarch" ? nlohmann::json::object() : packages},
                            {"packages.conda", nlohmann::json::object()}};
        write_file_atomic(dir / "channel" / subdir / "repodata.json", r.dump());
    }
}

EnvSpec env_at(const fs::path& dir, const std::string& deps, const std::string& extra = "") {
    const std::string text =
        "name: t\nchannels: [./channel]\ndependencies: [" + deps + "]\n" + extra;
    write_file_atomic(dir / "env.yml", text);
    return EnvSpec::load(dir / "env.yml");
}

LockOptions options_for(const fs::path& dir) {
    LockOptions o;
    o.repodata_cache = dir / "home" / "repodata";
    return o;
}

std::string version_of(const LockFile& lock, const std::string& name) {
    for (const auto& p : lock.packages) {
        if (p.name == name) {
            return p.version;
        }
    }
    return "";
}

}  // namespace

TEST_CASE("lock: solves a local channel and records what the solve depended on", "[lock]") {
    TempDir tmp;
    write_channel(tmp.path(), {{"a", "1.0", {}}, {"a", "2.0", {}}});
    EnvSpec spec = env_at(tmp.path(), "a");
    auto lock = lock_environment(spec, options_for(tmp.path()), Log::null());
    REQUIRE(lock);
    CHECK(version_of(*lock, "a") == "2.0");
    CHECK(lock->content_hash.at("linux-64") == env_content_hash(spec, "linux-64"));
    CHECK(lock->custom_metadata.at("envpack.virtual-packages.linux-64") ==
          "__archspec=1=x86_64 __glibc=2.36=0 __linux=4.18=0 __unix=0=0");
    CHECK(lock->channels == std::vector<std::string>{"./channel"});
    // The metadata survives the file.
    LockFile again = LockFile::parse(lock->to_string(), "conda-lock.yml");
    CHECK(again == *lock);
    CHECK(lock->to_string().find("  custom_metadata:\n") != std::string::npos);
}

TEST_CASE("lock: an old lock's versions are preferred where the specs allow", "[lock]") {
    TempDir tmp;
    write_channel(tmp.path(),
                  {{"a", "1.0", {}}, {"a", "2.0", {}}, {"b", "1.0", {}}, {"c", "1.0", {"a"}}});
    LockOptions o = options_for(tmp.path());
    EnvSpec old_spec = env_at(tmp.path(), "a<2, b");
    auto old = lock_environment(old_spec, o, Log::null());
    REQUIRE(old);
    REQUIRE(version_of(*old, "a") == "1.0");

    EnvSpec spec = env_at(tmp.path(), "a, c");
    o.preferred = &*old;
    auto kept = lock_environment(spec, o, Log::null());
    REQUIRE(kept);
    CHECK(version_of(*kept, "a") == "1.0");  // still allowed: kept
    CHECK(version_of(*kept, "b").empty());   // preferred, but no longer asked for
    CHECK(version_of(*kept, "c") == "1.0");

    EnvSpec newer = env_at(tmp.path(), "a>=2");
    auto moved = lock_environment(newer, o, Log::null());
    REQUIRE(moved);
    CHECK(version_of(*moved, "a") == "2.0");

    o.preferred = nullptr;
    auto fresh = lock_environment(spec, o, Log::null());
    REQUIRE(fresh);
    CHECK(version_of(*fresh, "a") == "2.0");
}

TEST_CASE("lock: an unsatisfiable request is a value naming the platform", "[lock]") {
    TempDir tmp;
    write_channel(tmp.path(), {{"a", "1.0", {"b >=2"}}, {"b", "1.0", {}}, {"b", "2.0", {}}});
    EnvSpec spec = env_at(tmp.path(), "a, b<2");
    auto lock = lock_environment(spec, options_for(tmp.path()), Log::null());
    REQUIRE_FALSE(lock);
    CHECK(lock.error().platform == "linux-64");
    CHECK_FALSE(lock.error().detail.explanation.empty());
}

TEST_CASE("lock: freshness covers content, virtual packages, platforms, includes", "[lock]") {
    TempDir tmp;
    write_channel(tmp.path(), {{"a", "1.0", {}}});
    // Only options and a constraint: nothing to install, so the solve needs no python and no wheel
    // (test_pip_lock.cpp locks real pip lists).
    write_file_atomic(tmp.path() / "requirements.txt", "--no-index\n-c constraints.txt\n");
    write_file_atomic(tmp.path() / "constraints.txt", "requests<3\n");
    const std::string pip = "  - pip:\n    - -r requirements.txt\n";
    EnvSpec spec = EnvSpec::parse("channels: [./channel]\ndependencies:\n  - a\n" + pip,
                                  tmp.path() / "env.yml");
    auto includes = included_file_hashes(spec);
    REQUIRE(includes.size() == 2);
    CHECK(includes.contains("requirements.txt"));
    CHECK(includes.contains("constraints.txt"));

    auto lock = lock_environment(spec, options_for(tmp.path()), Log::null());
    REQUIRE(lock);
    const std::vector<std::string> linux = {"linux-64"};
    CHECK(lock_freshness(*lock, spec, linux, {}).fresh());
    // A pip wheel from a --find-links folder is no local conda channel.
    LockedPackage wheel;
    wheel.name = "requests";
    wheel.manager = "pip";
    wheel.platform = "linux-64";
    wheel.url = "file:///srv/wheels/requests-2.31.0-py3-none-any.whl";
    LockFile with_wheel = *lock;
    with_wheel.packages.push_back(wheel);
    CHECK(lock_freshness(with_wheel, spec, linux, {}).fresh());

    EnvSpec edited = EnvSpec::parse("channels: [./channel]\ndependencies:\n  - a >=1\n" + pip,
                                    tmp.path() / "env.yml");
    auto f = lock_freshness(*lock, edited, linux, {});
    CHECK_FALSE(f.fresh());
    CHECK(f.reason == "`env.yml` changed since it was locked");

    f = lock_freshness(*lock, spec, linux, {"__cuda=12.4"});
    CHECK_FALSE(f.fresh());
    CHECK(f.reason.find("+__cuda=12.4=0") != std::string::npos);

    f = lock_freshness(*lock, spec, {"linux-64", "linux-aarch64"}, {});
    CHECK(f.reason == "it has no packages for linux-aarch64");

    write_file_atomic(tmp.path() / "constraints.txt", "requests<2\n");
    f = lock_freshness(*lock, spec, linux, {});
    CHECK(f.reason == "`constraints.txt` (included by `env.yml`) changed since it was locked");
}

TEST_CASE("lock: a lock whose local channel lies elsewhere (a copied checkout) is stale",
          "[lock]") {
    TempDir one;
    TempDir two;
    write_channel(one.path(), {{"a", "1.0", {}}});
    write_channel(two.path(), {{"a", "1.0", {}}});
    EnvSpec here = env_at(one.path(), "a");
    auto lock = lock_environment(here, options_for(one.path()), Log::null());
    REQUIRE(lock);
    CHECK(lock_freshness(*lock, here, {"linux-64"}, {}).fresh());
    EnvSpec there = env_at(two.path(), "a");
    auto f = lock_freshness(*lock, there, {"linux-64"}, {});
    CHECK_FALSE(f.fresh());
    CHECK(f.reason.find("local channel") != std::string::npos);
    // ... yet both name their packages the same way.
    CHECK(
        portable_lock_text(*lock, here) ==
        portable_lock_text(*lock_environment(there, options_for(two.path()), Log::null()), there));
    CHECK(portable_url(lock->packages.at(0).url, here) == "./channel/linux-64/a-1.0-0.tar.bz2");
    CHECK(portable_url("https://conda.anaconda.org/x/linux-64/a.conda", here) ==
          "https://conda.anaconda.org/x/linux-64/a.conda");
}

TEST_CASE("lock: ensure_lock creates, uses, re-locks, refuses and freezes", "[lock]") {
    TempDir tmp;
    write_channel(tmp.path(), {{"a", "1.0", {}}, {"a", "2.0", {}}, {"b", "1.0", {}}});
    LockOptions o = options_for(tmp.path());
    const fs::path path = tmp.path() / "locks" / "conda-lock.yml";

    EnvSpec first = env_at(tmp.path(), "a<2");
    EnsuredLock made = ensure_lock(first, path, LockPolicy::refresh, o, Log::null());
    CHECK(made.action == LockAction::created);
    CHECK(made.reason == "there was no lock");
    REQUIRE(fs::exists(path));

    EnsuredLock used = ensure_lock(first, path, LockPolicy::locked, o, Log::null());
    CHECK(used.action == LockAction::used);
    CHECK(used.lock == made.lock);

    EnvSpec second = env_at(tmp.path(), "a, b");
    try {
        ensure_lock(second, path, LockPolicy::locked, o, Log::null());
        FAIL("--locked accepted a stale lock");
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::bad_input);
        CHECK(std::string(e.what()).find(path.string()) != std::string::npos);
        CHECK(std::string(e.what()).find("is stale") != std::string::npos);
    }
    EnsuredLock frozen = ensure_lock(second, path, LockPolicy::frozen, o, Log::null());
    CHECK(frozen.action == LockAction::used);
    CHECK(frozen.lock == made.lock);

    EnsuredLock relocked = ensure_lock(second, path, LockPolicy::refresh, o, Log::null());
    CHECK(relocked.action == LockAction::relocked);
    CHECK(relocked.reason == "`env.yml` changed since it was locked");
    CHECK(version_of(relocked.lock, "a") == "1.0");  // the old version, still allowed
    CHECK(version_of(relocked.lock, "b") == "1.0");
    CHECK(LockFile::load(path) == relocked.lock);

    const fs::path none = tmp.path() / "none.yml";
    CHECK_THROWS_AS(ensure_lock(second, none, LockPolicy::locked, o, Log::null()), Error);
    CHECK_THROWS_AS(ensure_lock(second, none, LockPolicy::frozen, o, Log::null()), Error);
    CHECK_FALSE(fs::exists(none));
}

TEST_CASE("lock: where locks live", "[lock]") {
    EnvSpec spec = EnvSpec::parse("dependencies: [a]\n", "/work/project/env.yml");
    CHECK(default_lock_path(spec) == fs::path("/work/project/conda-lock.yml"));
    fs::path home_lock = home_lock_path("/h", "/work/project/env.yml");
    CHECK(home_lock.parent_path().parent_path() == fs::path("/h/locks"));
    CHECK(home_lock.filename() == "conda-lock.yml");
    CHECK(home_lock == home_lock_path("/h", "/work/project/./env.yml"));
    CHECK(home_lock != home_lock_path("/h", "/work/other/env.yml"));
}

TEST_CASE("lock: virtual packages text is sorted and complete", "[lock]") {
    VirtualPackages v = target_virtual_packages("linux-64", {"__cuda=12.4", "__glibc=2.28"});
    CHECK(virtual_packages_text(v) ==
          "__archspec=1=x86_64 __cuda=12.4=0 __glibc=2.28=0 __linux=4.18=0 __unix=0=0");
    CHECK_THROWS_AS(target_virtual_packages("linux-64", {"cuda=12"}), Error);
}
