// The solver on conda-forge's numpy closure (shared/data/conda/channels/conda-forge-numpy) and on
// small hand-made channels, one per conda rule: strict channel priority, constrains, preference
// order (features, version, build number, timestamp), noarch records, absent dependencies.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "solver_fixtures.h"

using namespace envpack;
using envpack::test::channel;
using envpack::test::dists;
using envpack::test::record;
using envpack::test::shared_channel;
using envpack::test::specs;

namespace {

std::string version_of(const Solution& s, const std::string& name) {
    for (const auto& r : s.records) {
        if (r.name == name) {
            return r.version + (r.channel.empty() ? "" : "@" + r.channel);
        }
    }
    return "(absent)";
}

}  // namespace

TEST_CASE("solver: conda-forge numpy installs its whole closure") {
    // Every name in this channel has one version (libffi has a .tar.bz2 and a .conda twin; the
    // loader keeps the .conda), so conda's answer is the dependency closure of numpy: 30
    // packages. `blas * openblas`, `openmp_impl 9999` and the like are only `constrains` on names
    // that are not installed, so they hold. pip is not pulled in (python's depends do not list it
    // and add_pip_as_python_dependency is off by default here).
    Solver solver(shared_channel("conda-forge-numpy"), VirtualPackages::for_platform("linux-64"));
    auto result = solver.solve(specs({"numpy"}));
    REQUIRE(result);
    CHECK(dists(*result) == std::vector<std::string>{"_libgcc_mutex-0.1-conda_forge",
                                                     "_openmp_mutex-4.5-2_gnu",
                                                     "bzip2-1.0.8-hd590300_5",
                                                     "ca-certificates-2024.2.2-hbcca054_0",
                                                     "ld_impl_linux-64-2.40-h41732ed_0",
                                                     "libblas-3.9.0-21_linux64_openblas",
                                                     "libcblas-3.9.0-21_linux64_openblas",
                                                     "libexpat-2.5.0-hcb278e6_1",
                                                     "libffi-3.4.2-h7f98852_5",
                                                     "libgcc-ng-13.2.0-h807b86a_5",
                                                     "libgfortran-ng-13.2.0-h69a702a_5",
                                                     "libgfortran5-13.2.0-ha4646dd_5",
                                                     "libgomp-13.2.0-h807b86a_5",
                                                     "liblapack-3.9.0-21_linux64_openblas",
                                                     "libnsl-2.0.1-hd590300_0",
                                                     "libopenblas-0.3.26-pthreads_h413a1c8_0",
                                                     "libsqlite-3.44.2-h2797004_0",
                                                     "libstdcxx-ng-13.2.0-h7e041cc_5",
                                                     "libuuid-2.38.1-h0b41bf4_0",
                                                     "libxcrypt-4.4.36-hd590300_1",
                                                     "libzlib-1.2.13-hd590300_5",
                                                     "ncurses-6.4-h59595ed_2",
                                                     "numpy-1.26.4-py312head63a1_0",
                                                     "openssl-3.2.1-hd590300_0",
                                                     "python-3.12.1-hab00c5b_1_cpython",
                                                     "python_abi-3.12-4_cp312",
                                                     "readline-8.2-h8228510_1",
                                                     "tk-8.6.13-noxft_h4845f30_101",
                                                     "tzdata-2024a-h0c530f3_0",
                                                     "xz-5.2.6-h166bdaf_0"});
    // Dependencies first: the mutexes before libgcc-ng, libgcc-ng before python, python before
    // numpy.
    std::vector<std::string> order;
    for (const auto& r : result->records) {
        order.push_back(r.name);
    }
    auto pos = [&](const char* n) {
        return std::find(order.begin(), order.end(), n) - order.begin();
    };
    CHECK(pos("_libgcc_mutex") < pos("libgcc-ng"));
    CHECK(pos("libgcc-ng") < pos("python"));
    CHECK(pos("python") < pos("numpy"));
    // The record keeps what the loader read: the .conda file and its URL.
    for (const auto& r : result->records) {
        if (r.name == "libffi") {
            CHECK(r.fn == "libffi-3.4.2-h7f98852_5.conda");
        }
    }
    // pip is noarch: python; it solves from the same merged channel.
    auto pip = solver.solve(specs({"pip", "python=3.12"}));
    REQUIRE(pip);
    CHECK(version_of(*pip, "pip") == "24.0@conda-forge-numpy");
    CHECK(version_of(*pip, "setuptools") == "69.0.3@conda-forge-numpy");
    // There is no python 3.11 in this channel: an error naming the spec, channel and versions.
    try {
        solver.solve(specs({"numpy", "python=3.11"}));
        FAIL("no error");
    } catch (const Error& e) {
        std::string what = e.what();
        CHECK(e.code() == ExitCode::unsatisfiable);
        CHECK(what.find("python=3.11") != std::string::npos);
        CHECK(what.find("conda-forge-numpy") != std::string::npos);
        CHECK(what.find("3.12.1") != std::string::npos);
    }
}

TEST_CASE("solver: strict channel priority (conda's default `strict`)") {
    std::vector<ChannelRecords> channels{
        channel("first", {record("foo", "1.0"), record("only-first", "1.0", {"foo"})}),
        channel("second", {record("foo", "2.0"), record("bar", "1.0", {"foo >=2"})})};
    VirtualPackages none;
    SECTION("the first channel that has a name wins, even with an older version") {
        Solver solver(channels, none);
        auto r = solver.solve(specs({"foo"}));
        REQUIRE(r);
        CHECK(version_of(*r, "foo") == "1.0@first");
        // bar needs foo>=2, which only the second channel has: strict says no.
        auto bar = solver.solve(specs({"bar"}));
        REQUIRE_FALSE(bar);
        CHECK(bar.error().explanation.find("ignored: a higher-priority channel has it") !=
              std::string::npos);
        // Asking for foo>=2 names the ignored versions.
        try {
            solver.solve(specs({"foo>=2"}));
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(std::string(e.what()).find("strict channel priority") != std::string::npos);
        }
    }
    SECTION("a spec that names its channel takes it from there") {
        Solver solver(channels, none);
        auto r = solver.solve(specs({"second::foo"}));
        REQUIRE(r);
        CHECK(version_of(*r, "foo") == "2.0@second");
    }
    SECTION("disabled priority: every channel competes, highest version first") {
        Solver solver(channels, none, SolverOptions{ChannelPriority::disabled});
        auto r = solver.solve(specs({"foo"}));
        REQUIRE(r);
        CHECK(version_of(*r, "foo") == "2.0@second");
        auto bar = solver.solve(specs({"bar"}));
        REQUIRE(bar);
        CHECK(version_of(*bar, "foo") == "2.0@second");
    }
}

TEST_CASE("solver: constrains restrict a name only when it is installed") {
    std::vector<ChannelRecords> channels{
        channel("c", {record("a", "1.0", {}, {"b <2"}), record("b", "1.5"), record("b", "2.5"),
                      record("c", "1.0", {"b >=2"})})};
    VirtualPackages none;
    Solver solver(channels, none);
    // a alone: b is not installed, and the constraint does not pull it in.
    auto alone = solver.solve(specs({"a"}));
    REQUIRE(alone);
    CHECK(dists(*alone) == std::vector<std::string>{"a-1.0-0"});
    // a and b: b must be <2, so 1.5 rather than the newer 2.5.
    auto both = solver.solve(specs({"a", "b"}));
    REQUIRE(both);
    CHECK(version_of(*both, "b") == "1.5@c");
    // a and c: c needs b>=2, a constrains b<2.
    auto clash = solver.solve(specs({"a", "c"}));
    REQUIRE_FALSE(clash);
    const std::string& text = clash.error().explanation;
    INFO(text);
    CHECK(clash.error().conflicting_specs == std::vector<std::string>{"a", "c"});
    CHECK(text.find("constrains `b <2`") != std::string::npos);
    CHECK(text.find("c 1.0 requires `b >=2`") != std::string::npos);
}

TEST_CASE("solver: preference order per name") {
    auto tf = [](PackageRecord r, std::vector<std::string> features) {
        r.track_features = std::move(features);
        return r;
    };
    auto ts = [](PackageRecord r, std::int64_t t) {
        r.timestamp = t;
        return r;
    };
    std::vector<ChannelRecords> channels{channel(
        "c",
        {record("lib", "1.0"), tf(record("lib", "2.0"), {"debug"}), record("app", "1.0", {"lib"}),
         record("bn", "1.0", {}, {}, "a", 1), record("bn", "1.0", {}, {}, "b", 3),
         record("bn", "1.0", {}, {}, "c", 2), ts(record("t", "1.0", {}, {}, "old"), 1000),
         ts(record("t", "1.0", {}, {}, "new"), 2000)})};
    VirtualPackages none;
    Solver solver(channels, none);
    // As a dependency, fewer track_features beats a higher version.
    auto app = solver.solve(specs({"app"}));
    REQUIRE(app);
    CHECK(version_of(*app, "lib") == "1.0@c");
    // Requested by name, conda maximises the version first (then minimises features).
    auto lib = solver.solve(specs({"lib"}));
    REQUIRE(lib);
    CHECK(version_of(*lib, "lib") == "2.0@c");
    // Same version: the highest build number, then the newest timestamp.
    auto bn = solver.solve(specs({"bn"}));
    REQUIRE(bn);
    CHECK(bn->records.front().build == "b");
    auto t = solver.solve(specs({"t"}));
    REQUIRE(t);
    CHECK(t->records.front().build == "new");
    // The same pool answers a second time exactly as the first.
    auto again = solver.solve(specs({"app"}));
    REQUIRE(again);
    CHECK(dists(*again) == dists(*app));
}

TEST_CASE("solver: noarch records, pip as python dependency, absent dependencies") {
    auto noarch = record("tool", "1.0", {"python >=3.8"});
    noarch.subdir = "noarch";
    noarch.noarch = "python";
    std::vector<ChannelRecords> channels{
        channel("c", {record("python", "3.11.0"), record("pip", "23.0", {"python >=3.7"}), noarch,
                      record("foo", "1.0"), record("foo", "2.0", {"missing-lib >=1"})})};
    VirtualPackages none;
    Solver solver(channels, none);
    auto r = solver.solve(specs({"tool"}));
    REQUIRE(r);
    CHECK(dists(*r) == std::vector<std::string>{"python-3.11.0-0", "tool-1.0-0"});
    // conda's add_pip_as_python_dependency, when asked for.
    Solver with_pip(channels, none,
                    SolverOptions{ChannelPriority::strict, PipAsPythonDependency::yes});
    auto p = with_pip.solve(specs({"tool"}));
    REQUIRE(p);
    CHECK(dists(*p) == std::vector<std::string>{"pip-23.0-0", "python-3.11.0-0", "tool-1.0-0"});
    // foo 2.0 depends on a name no channel has: foo 1.0 is installed instead, no crash.
    auto foo = solver.solve(specs({"foo"}));
    REQUIRE(foo);
    CHECK(version_of(*foo, "foo") == "1.0@c");
    // Insisting on foo 2 explains what is missing.
    auto foo2 = solver.solve(specs({"foo=2"}));
    REQUIRE_FALSE(foo2);
    INFO(foo2.error().explanation);
    CHECK(foo2.error().explanation.find(
              "requires `missing-lib >=1`, which nothing in c provides") != std::string::npos);
    // A malformed dependency string in repodata matches nothing rather than throwing.
    std::vector<ChannelRecords> bad{
        channel("c", {record("x", "1.0", {"y >=>1"}), record("y", "1.0")})};
    Solver bad_solver(bad, none);
    CHECK_FALSE(bad_solver.solve(specs({"x"})));
}

TEST_CASE("solver: one-shot solve() over a SolveRequest") {
    SolveRequest request;
    request.channels = shared_channel("conda-test-index");
    request.specs = specs({"python 2.7*", "numpy 1.7*"});
    auto r = solve(request);
    REQUIRE(r);
    CHECK(version_of(*r, "numpy") == "1.7.1@conda-test-index");
    CHECK(version_of(*r, "python") == "2.7.5@conda-test-index");
}

TEST_CASE("virtual packages: defaults and overrides") {
    auto v = VirtualPackages::for_platform("linux-64");
    auto find = [&](const char* name) -> std::string {
        for (const auto& r : v.records()) {
            if (r.name == name) {
                return r.version + "=" + r.build;
            }
        }
        return "(absent)";
    };
    CHECK(find("__glibc") == "2.36=0");
    CHECK(find("__linux") == "4.18=0");
    CHECK(find("__unix") == "0=0");
    CHECK(find("__archspec") == "1=x86_64");
    CHECK(find("__cuda") == "(absent)");
    v.apply_override("__cuda=12.4");
    CHECK(find("__cuda") == "12.4=0");
    v.apply_override("__glibc=2.28");
    CHECK(find("__glibc") == "2.28=0");
    v.apply_override("__archspec=1=aarch64");
    CHECK(find("__archspec") == "1=aarch64");
    v.apply_override("__cuda=");
    CHECK(find("__cuda") == "(absent)");
    CHECK(VirtualPackages::for_platform("linux-aarch64").records().size() == 4);
    for (const char* bad : {"cuda=12", "__cuda", "=12", "__cuda=1..2", "__cuda=12="}) {
        INFO(bad);
        CHECK_THROWS_AS(v.apply_override(bad), Error);
    }
}
