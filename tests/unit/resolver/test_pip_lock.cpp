// The `pip:` list read as pip reads a requirements file (pip_list) and locked after the conda
// solve (pip_lock): options, includes, hashes, constraints, direct wheels, conda-installed names,
// and located errors.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "core/digest.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "resolver/env_file.h"
#include "resolver/pip_list.h"
#include "resolver/pip_lock.h"
#include "zip_writer.h"

using namespace envpack;
namespace fs = std::filesystem;

namespace {

std::string make_wheel(const std::string& name, const std::string& version,
                       const std::string& deps = "") {
    const std::string info = name + "-" + version + ".dist-info";
    return envpack::testing::make_zip(
        {{name + "/__init__.py", ""},
         {info + "/METADATA",
          "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n" + deps},
         {info + "/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"},
         {info + "/RECORD", ""}});
}

struct Project {
    TempDir tmp{"pip-lock-"};
    Project() { fs::create_directories(tmp.path() / "wheels"); }
    void wheel(const std::string& file, const std::string& bytes) {
        write_file_atomic(tmp.path() / "wheels" / file, bytes, Durability::none);
    }
    void file(const std::string& rel, const std::string& text) {
        fs::create_directories((tmp.path() / rel).parent_path());
        write_file_atomic(tmp.path() / rel, text, Durability::none);
    }
    EnvSpec env(const std::string& pip_items) {
        file("env.yml",
             "name: t\nchannels: [./ch]\ndependencies:\n  - python=3.11\n  - pip:\n" + pip_items);
        return EnvSpec::load(tmp.path() / "env.yml");
    }
};

std::vector<PackageRecord> conda_with(std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<PackageRecord> out;
    PackageRecord python;
    python.name = "python";
    python.version = "3.11.2";
    out.push_back(python);
    for (auto& [n, v] : extra) {
        PackageRecord r;
        r.name = n;
        r.version = v;
        out.push_back(r);
    }
    return out;
}

std::expected<std::vector<LockedPackage>, PipUnresolvable> lock(
    const EnvSpec& env, const std::vector<PackageRecord>& conda) {
    Log log(LogOptions{LogLevel::quiet});
    PipLockRequest request;
    request.cache_dir = env.base_dir() / "cache";
    return lock_pip_list(env, conda, VirtualPackages::for_platform("linux-64"), request, log);
}

}  // namespace

TEST_CASE("pip_list: options, includes relative to their file, comments, continuations") {
    Project p;
    p.file("reqs/base.txt",
           "# a comment\n--extra-index-url https://extra.example/simple\n"
           "alpha>=1 \\\n  ; python_version >= \"3\"  # trailing\n-r more.txt\n-c pins.txt\n");
    p.file("reqs/more.txt", "beta[fast]==2.*\n");
    p.file("reqs/pins.txt", "alpha<3\n");
    setenv("ENVPACK_TEST_PIP_INDEX", "https://idx.example/simple", 1);
    const EnvSpec env = p.env(
        "      - -i ${ENVPACK_TEST_PIP_INDEX}\n      - --find-links ./wheels\n"
        "      - -r reqs/base.txt\n      - --pre\n      - gamma ; sys_platform == \"win32\"\n");
    const auto list = pip_list::read(env);
    REQUIRE(list.requirements.size() == 3);
    CHECK(list.requirements[0].requirement.to_string() == "alpha>=1; python_version >= \"3\"");
    CHECK(list.requirements[0].origin.file == fs::path("reqs/base.txt"));
    CHECK(list.requirements[0].origin.line == 3);
    CHECK(list.requirements[1].requirement.name == "beta");
    CHECK(list.requirements[2].requirement.name == "gamma");
    REQUIRE(list.constraints.size() == 1);
    CHECK(list.constraints[0].requirement.to_string() == "alpha<3");
    CHECK(list.active_indexes() ==
          std::vector<std::string>{"https://idx.example/simple", "https://extra.example/simple"});
    REQUIRE(list.find_links.size() == 1);
    CHECK(fs::path(list.find_links[0]) == fs::absolute(p.tmp.path() / "wheels"));
    CHECK(list.pre == pep440::PreReleases::allow);
}

TEST_CASE("pip_list: PyPI is the default index; --no-index leaves none") {
    Project p;
    CHECK(pip_list::read(p.env("      - alpha\n")).active_indexes() ==
          std::vector<std::string>{"https://pypi.org/simple"});
    CHECK(pip_list::read(p.env("      - --no-index\n      - alpha\n")).active_indexes().empty());
}

TEST_CASE("pip_list: bad lines are located in the environment file or the included file") {
    Project p;
    p.file("r.txt", "ok\nbad ===\n");
    auto located = [&](const std::string& items) {
        try {
            pip_list::read(p.env(items));
        } catch (const Error& e) {
            CHECK(e.code() == ExitCode::bad_input);
            return std::string(e.what());
        }
        FAIL("expected an error for " << items);
        return std::string();
    };
    const std::string bad = located("      - --no-index\n      - numpy >=< 1\n");
    CHECK_THAT(bad, Catch::Contains("env.yml:7:") && Catch::Contains("numpy >=< 1"));
    CHECK_THAT(located("      - -r r.txt\n"), Catch::Contains("r.txt:2"));
    CHECK_THAT(located("      - -r missing.txt\n"),
               Catch::Contains("env.yml:6:") && Catch::Contains("missing.txt"));
    CHECK_THAT(located("      - -e .\n"), Catch::Contains("editable"));
    CHECK_THAT(located("      - --frobnicate\n"), Catch::Contains("unknown pip option"));
    CHECK_THAT(located("      - ./src/project\n"), Catch::Contains("wheels only"));
    CHECK_THAT(located("      - --find-links ./nowhere\n"), Catch::Contains("nowhere"));
    CHECK_THAT(located("      - alpha --hash=md5:00\n"), Catch::Contains("sha256"));
}

TEST_CASE("pip_lock: wheels chosen after the conda solve, conda-installed names fixed") {
    Project p;
    p.wheel("alpha-1.0-py3-none-any.whl", make_wheel("alpha", "1.0", "Requires-Dist: beta>=1\n"));
    p.wheel("alpha-2.0-py3-none-any.whl",
            make_wheel("alpha", "2.0",
                       "Requires-Dist: beta>=1\nRequires-Dist: numpy>=1.20\n"
                       "Requires-Dist: colorama ; sys_platform == \"win32\"\n"));
    p.wheel("beta-1.5-py3-none-any.whl", make_wheel("beta", "1.5"));
    const EnvSpec env = p.env("      - --no-index\n      - --find-links ./wheels\n      - alpha\n");
    auto locked = lock(env, conda_with({{"numpy", "1.24.2"}}));
    REQUIRE(locked);
    REQUIRE(locked->size() == 2);
    const LockedPackage& alpha = (*locked)[0];
    CHECK(alpha.name == "alpha");
    CHECK(alpha.version == "2.0");
    CHECK(alpha.manager == "pip");
    CHECK(alpha.url.starts_with("file://"));
    CHECK(alpha.sha256 ==
          Digest::of_file((p.tmp.path() / "wheels/alpha-2.0-py3-none-any.whl").string()).hex());
    CHECK(alpha.dependencies ==
          std::vector<std::pair<std::string, std::string>>{{"beta", ">=1"}, {"numpy", ">=1.20"}});
    CHECK((*locked)[1].name == "beta");

    // numpy from conda is too old for alpha 2.0: pip backtracks to alpha 1.0.
    auto older = lock(env, conda_with({{"numpy", "1.19.5"}}));
    REQUIRE(older);
    CHECK((*older)[0].version == "1.0");
}

TEST_CASE("pip_lock: constraints, hashes, direct wheels, sdist-only names") {
    Project p;
    p.wheel("alpha-1.0-py3-none-any.whl", make_wheel("alpha", "1.0"));
    p.wheel("alpha-2.0-py3-none-any.whl", make_wheel("alpha", "2.0"));
    p.wheel("srconly-1.0.tar.gz", "sdist");
    p.file("pins.txt", "alpha<2\n");
    const std::string base = "      - --no-index\n      - --find-links ./wheels\n";

    auto constrained = lock(p.env(base + "      - -c pins.txt\n      - alpha\n"), conda_with());
    REQUIRE(constrained);
    REQUIRE(constrained->size() == 1);
    CHECK((*constrained)[0].version == "1.0");

    const std::string sha =
        Digest::of_file((p.tmp.path() / "wheels/alpha-1.0-py3-none-any.whl").string()).hex();
    auto hashed =
        lock(p.env(base + "      - alpha==1.0 --hash=sha256:" + sha + "\n"), conda_with());
    REQUIRE(hashed);
    CHECK((*hashed)[0].sha256 == sha);
    CHECK_THROWS_WITH(
        lock(p.env(base + "      - alpha==2.0 --hash=sha256:" + sha + "\n"), conda_with()),
        Catch::Contains("no `--hash`"));

    p.file("direct/alpha-3.0-py3-none-any.whl", make_wheel("alpha", "3.0"));
    auto direct = lock(p.env(base + "      - ./direct/alpha-3.0-py3-none-any.whl\n"), conda_with());
    REQUIRE(direct);
    CHECK((*direct)[0].version == "3.0");
    CHECK((*direct)[0].url.ends_with("/direct/alpha-3.0-py3-none-any.whl"));

    auto sdist = lock(p.env(base + "      - srconly\n"), conda_with());
    REQUIRE_FALSE(sdist);
    CHECK_THAT(sdist.error().explanation,
               Catch::Contains("srconly-1.0.tar.gz") && Catch::Contains("not usable"));

    auto conflict = lock(p.env(base + "      - alpha>=2\n      - alpha<2\n"), conda_with());
    REQUIRE_FALSE(conflict);
    CHECK_THAT(conflict.error().explanation, Catch::Contains("alpha"));
}

TEST_CASE("pip_lock: a conda package in the way is named; no python is an error") {
    Project p;
    p.wheel("numpy-2.0-py3-none-any.whl", make_wheel("numpy", "2.0"));
    const EnvSpec env =
        p.env("      - --no-index\n      - --find-links ./wheels\n      - numpy>=2\n");
    auto r = lock(env, conda_with({{"numpy", "1.24.2"}}));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().explanation, Catch::Contains("numpy") && Catch::Contains("1.24.2"));
    Log log(LogOptions{LogLevel::quiet});
    CHECK_THROWS_WITH(
        lock_pip_list(env, {}, VirtualPackages::for_platform("linux-64"), PipLockRequest{}, log),
        Catch::Contains("env.yml:") && Catch::Contains("python"));
}
