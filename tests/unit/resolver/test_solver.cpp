// The solver on conda's own test index (shared/data/conda/channels/conda-test-index, conda's
// tests/data/index.json). Where conda's test suite (tests/core/test_solve.py, test_resolve.py)
// states what conda installs for a request over this index, the expected lists below are those
// answers; the comments say which conda rule decides each one.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "solver_fixtures.h"

using namespace envpack;
using envpack::test::dists;
using envpack::test::shared_channel;
using envpack::test::specs;

namespace {

std::expected<Solution, Unsatisfiable> solve_index(
    std::initializer_list<const char*> request,
    VirtualPackages virtuals = VirtualPackages::for_platform("linux-64")) {
    Solver solver(shared_channel("conda-test-index"), virtuals);
    return solver.solve(specs(request));
}

std::vector<std::string> solved(std::initializer_list<const char*> request) {
    auto result = solve_index(request);
    if (!result) {
        FAIL("unexpectedly unsatisfiable:\n" << result.error().explanation);
    }
    return dists(*result);
}

}  // namespace

TEST_CASE("solver: iopro without mkl (conda test_iopro_nomkl)") {
    // Without a tracked feature, conda minimises track_features: the plain numpy build, not _p0.
    CHECK(solved({"iopro 1.4*", "python 2.7*", "numpy 1.7*"}) ==
          std::vector<std::string>{"iopro-1.4.3-np17py27_p0", "numpy-1.7.1-py27_0",
                                   "openssl-1.0.1c-0", "python-2.7.5-0", "readline-6.2-0",
                                   "sqlite-3.7.13-0", "system-5.8-1", "tk-8.5.13-0",
                                   "unixodbc-2.3.1-0", "zlib-1.2.7-0"});
}

TEST_CASE("solver: iopro with mkl (conda test_iopro_mkl)") {
    // Asking for the mkl feature brings mkl-rt (it tracks mkl) and, since conda then maximises
    // featured packages, the numpy build carrying `features: mkl` (py27_p0).
    CHECK(solved({"iopro 1.4*", "python 2.7*", "numpy 1.7*", "*[track_features=mkl]"}) ==
          std::vector<std::string>{"iopro-1.4.3-np17py27_p0", "mkl-rt-11.0-p0",
                                   "numpy-1.7.1-py27_p0", "openssl-1.0.1c-0", "python-2.7.5-0",
                                   "readline-6.2-0", "sqlite-3.7.13-0", "system-5.8-1",
                                   "tk-8.5.13-0", "unixodbc-2.3.1-0", "zlib-1.2.7-0"});
}

TEST_CASE("solver: features only when asked (conda test_no_features)") {
    // Without mkl: the featureless numpy/scipy builds with the highest build numbers.
    CHECK(solved({"python 2.6*", "numpy 1.6*", "scipy 0.11*"}) ==
          std::vector<std::string>{"numpy-1.6.2-py26_4", "openssl-1.0.1c-0", "python-2.6.8-6",
                                   "readline-6.2-0", "scipy-0.11.0-np16py26_3", "sqlite-3.7.13-0",
                                   "system-5.8-1", "tk-8.5.13-0", "zlib-1.2.7-0"});
    // With mkl tracked: the featured builds, and mkl-rt which provides the feature.
    CHECK(solved({"python 2.6*", "numpy 1.6*", "scipy 0.11*", "*[track_features=mkl]"}) ==
          std::vector<std::string>{"mkl-rt-11.0-p0", "numpy-1.6.2-py26_p4", "openssl-1.0.1c-0",
                                   "python-2.6.8-6", "readline-6.2-0", "scipy-0.11.0-np16py26_p3",
                                   "sqlite-3.7.13-0", "system-5.8-1", "tk-8.5.13-0",
                                   "zlib-1.2.7-0"});
}

TEST_CASE("solver: mkl and accelerate bring their feature (conda test_mkl, test_accelerate)") {
    CHECK(solved({"mkl 11*", "*[track_features=mkl]"}) == solved({"mkl"}));
    CHECK(solved({"accelerate"}) == solved({"accelerate", "*[track_features=mkl]"}));
}

TEST_CASE("solver: irrational version (conda test_irrational_version)") {
    // `pytz 2012d` is a version with a letter; python 3* picks the newest 3.x, 3.3.2.
    CHECK(solved({"pytz 2012d", "python 3*"}) ==
          std::vector<std::string>{"openssl-1.0.1c-0", "python-3.3.2-0", "pytz-2012d-py33_0",
                                   "readline-6.2-0", "sqlite-3.7.13-0", "system-5.8-1",
                                   "tk-8.5.13-0", "zlib-1.2.7-0"});
}

TEST_CASE("solver: highest versions for a plain request") {
    // conda maximises the version of what is asked for: numpy 1.7.1, and then the newest python
    // that numpy 1.7.1 has a build for (py33 -> 3.3.2), featureless build.
    auto got = solved({"numpy"});
    CHECK(std::find(got.begin(), got.end(), "numpy-1.7.1-py33_0") != got.end());
    CHECK(std::find(got.begin(), got.end(), "python-3.3.2-0") != got.end());
    // `python=2.7` is a prefix: 2.7.5 is the newest 2.7.x.
    auto py27 = solved({"python=2.7"});
    CHECK(std::find(py27.begin(), py27.end(), "python-2.7.5-0") != py27.end());
    // `python==2.7.4` is exact; `python=2.7.4=0` is conda-export form.
    auto exact = solved({"python=2.7.4=0"});
    CHECK(std::find(exact.begin(), exact.end(), "python-2.7.4-0") != exact.end());
}

TEST_CASE("solver: install order puts dependencies first") {
    auto result = solve_index({"numpy 1.7*", "python 2.7*"});
    REQUIRE(result);
    std::vector<std::string> names;
    for (const auto& r : result->records) {
        names.push_back(r.name);
    }
    auto pos = [&](const char* n) {
        return std::find(names.begin(), names.end(), n) - names.begin();
    };
    CHECK(pos("python") < pos("numpy"));
    CHECK(pos("zlib") < pos("python"));
    CHECK(pos("system") < pos("zlib"));
}

TEST_CASE("solver: unsatisfiable requests explain the conflict (conda test_unsat_from_r1)") {
    SECTION("numpy 1.5 has no python 3 build") {
        auto result = solve_index({"numpy 1.5*", "python 3*"});
        REQUIRE_FALSE(result);
        const std::string& text = result.error().explanation;
        INFO(text);
        CHECK(result.error().conflicting_specs ==
              std::vector<std::string>{"numpy=1.5", "python=3"});
        CHECK(text.find("`numpy=1.5`") != std::string::npos);
        CHECK(text.find("`python=3`") != std::string::npos);
        CHECK(text.find("requires `python 2.7*`") != std::string::npos);
        CHECK(text.find("only one `python` can be installed") != std::string::npos);
        CHECK(text.find("`python=3` wants 3.3.0, 3.3.1, 3.3.2") != std::string::npos);
        CHECK(text.find("numpy 1.5.1 needs `python 2.6*` or `python 2.7*` (2.6.8, 2.7.3, 2.7.4, "
                        "2.7.5)") != std::string::npos);
        CHECK(text.find("python in conda-test-index: 2.6.8, 2.7.3, 2.7.4, 2.7.5, 3.3.0") !=
              std::string::npos);
    }
    SECTION("scipy 0.12.0b1 needs numpy 1.6 or 1.7") {
        auto result = solve_index({"numpy 1.5*", "scipy 0.12.0b1"});
        REQUIRE_FALSE(result);
        const std::string& text = result.error().explanation;
        INFO(text);
        CHECK(text.find("`numpy=1.5`") != std::string::npos);
        CHECK(text.find("`scipy==0.12.0b1`") != std::string::npos);
        CHECK(text.find("only one `numpy` can be installed") != std::string::npos);
    }
    SECTION("two versions of one name") {
        auto result = solve_index({"numpy 1.5*", "numpy 1.6*"});
        REQUIRE_FALSE(result);
        INFO(result.error().explanation);
        CHECK(result.error().conflicting_specs ==
              std::vector<std::string>{"numpy=1.5", "numpy=1.6"});
    }
    SECTION("a dependency chain two levels deep") {
        // unsatisfiable-with-py26 -> scikit-learn ==0.13 -> python 2.7* (its only build): the
        // explanation must walk the chain down to python.
        auto result = solve_index({"unsatisfiable-with-py26", "python 2.6*"});
        if (!result) {
            const std::string& text = result.error().explanation;
            INFO(text);
            CHECK(text.find("`scikit-learn ==0.13`") != std::string::npos);
            CHECK(text.find("scikit-learn 0.13 needs `python 2.7*`") != std::string::npos);
            CHECK(text.find("only one `python` can be installed") != std::string::npos);
        } else {
            FAIL("expected a conflict: " << Catch::Detail::stringify(dists(*result)));
        }
    }
}

TEST_CASE("solver: a requested spec that matches nothing is an error, never an empty success") {
    // conda test_nonexistent: notarealpackage, and numpy 1.5 (exact; only 1.5.1 exists).
    try {
        solve_index({"notarealpackage 2.0*"});
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::unsatisfiable);
        CHECK(std::string(e.what()).find("notarealpackage=2.0") != std::string::npos);
        CHECK(std::string(e.what()).find("conda-test-index") != std::string::npos);
    }
    try {
        solve_index({"numpy 1.5"});
        FAIL("no error");
    } catch (const Error& e) {
        std::string what = e.what();
        CHECK(what.find("numpy==1.5") != std::string::npos);
        CHECK(what.find("1.5.1") != std::string::npos);  // what is available is shown
    }
}

TEST_CASE("solver: virtual packages and constrains (cuda-* records)") {
    auto with_cuda = [](const char* version) {
        auto v = VirtualPackages::for_platform("linux-64");
        v.apply_override(std::string("__cuda=") + version);
        return v;
    };
    auto pick = [](const std::expected<Solution, Unsatisfiable>& r, const std::string& name) {
        REQUIRE(r);
        for (const auto& rec : r->records) {
            if (rec.name == name) {
                return rec.version;
            }
        }
        return std::string("(absent)");
    };
    // cudatoolkit depends on __cuda: the newest whose requirement the target's driver meets.
    CHECK(pick(solve_index({"cudatoolkit"}, with_cuda("12.4")), "cudatoolkit") == "10.0");
    CHECK(pick(solve_index({"cudatoolkit"}, with_cuda("9.2")), "cudatoolkit") == "9.0");
    // Without __cuda (the default: the build host's GPU is never looked at) nothing fits.
    auto none = solve_index({"cudatoolkit"});
    REQUIRE_FALSE(none);
    CHECK(none.error().explanation.find("__cuda") != std::string::npos);
    // cuda-constrain only *constrains* __cuda: 10.0 needs a 10.x driver, 11.0 an 11.x one.
    CHECK(pick(solve_index({"cuda-constrain"}, with_cuda("10.2")), "cuda-constrain") == "10.0");
    CHECK(pick(solve_index({"cuda-constrain"}, with_cuda("11.2")), "cuda-constrain") == "11.0");
    // No __cuda at all: a constraint on an absent package holds, the newest wins.
    CHECK(pick(solve_index({"cuda-constrain"}), "cuda-constrain") == "11.0");
    auto clash = solve_index({"cuda-constrain=10.0"}, with_cuda("11.2"));
    REQUIRE_FALSE(clash);
    INFO(clash.error().explanation);
    CHECK(clash.error().explanation.find("constrains `__cuda>=10.0,<11`") != std::string::npos);
    // cuda-glibc constrains __glibc>=2.17: fine on Debian 12's 2.36, not on an old 2.12 image.
    CHECK(pick(solve_index({"cuda-glibc"}, with_cuda("10.1")), "cuda-glibc") == "10.0");
    auto old = with_cuda("10.1");
    old.apply_override("__glibc=2.12");
    auto old_glibc = solve_index({"cuda-glibc"}, old);
    REQUIRE_FALSE(old_glibc);
    CHECK(old_glibc.error().explanation.find("__glibc") != std::string::npos);
}
