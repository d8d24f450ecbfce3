// libsolv's pool holds only what a request can reach (conda's reduced index): the names of the
// requested specs and every name their dependencies lead to, at any version. These tests pin
// what that must not change: constraints from records still apply to names that enter the pool
// by another path, glob and channel-qualified dependency names reach their packages, pip is
// reached through python when conda would add it, and a Solver reused for several requests
// answers each as a fresh one would.
#include <catch2/catch.hpp>

#include "resolver/detail/solver_pool.h"
#include "solver_fixtures.h"

using namespace envpack;
using envpack::test::dists;
using envpack::test::record;
using envpack::test::shared_channel;
using envpack::test::specs;

namespace {

std::vector<ChannelRecords> one_channel(std::vector<PackageRecord> records) {
    return {envpack::test::channel("local", std::move(records))};
}

std::vector<std::string> solve_fresh(const std::vector<ChannelRecords>& channels,
                                     std::initializer_list<const char*> request,
                                     SolverOptions options = {}) {
    envpack::Solver solver(channels, VirtualPackages::for_platform("linux-64"), options);
    auto result = solver.solve(specs(request));
    if (!result) {
        return {"unsatisfiable: " + result.error().explanation};
    }
    return dists(*result);
}

}  // namespace

TEST_CASE("reach: dependency names", "[solver]") {
    using envpack::detail::dependency_name;
    CHECK(dependency_name("numpy") == "numpy");
    CHECK(dependency_name("numpy >=1.20,<2") == "numpy");
    CHECK(dependency_name("numpy>=1.20") == "numpy");
    CHECK(dependency_name("python_abi 3.10.* *_cp310") == "python_abi");
    CHECK(dependency_name("conda-forge::numpy 1.26") == "numpy");
    CHECK(dependency_name("https://conda.anaconda.org/conda-forge::numpy >=1") == "numpy");
    CHECK(dependency_name("conda-forge/linux-64::numpy") == "numpy");
    CHECK(dependency_name("numpy[version='>=1']") == "numpy");
    CHECK(dependency_name("libblas=*=*mkl") == "libblas");
    CHECK(dependency_name("py* >=1") == "py*");
}

TEST_CASE("reach: constraints apply to names that enter the pool by another path", "[solver]") {
    auto channels = one_channel({
        record("x", "1", {}, {"y <2"}),
        record("y", "1"),
        record("y", "3"),
        record("z", "1", {"y"}),
    });
    // y is not reachable from x: x alone installs alone.
    CHECK(solve_fresh(channels, {"x"}) == std::vector<std::string>{"x-1-0"});
    // z brings y in; x's constraint then holds it below 2.
    CHECK(solve_fresh(channels, {"x", "z"}) == std::vector<std::string>{"x-1-0", "y-1-0", "z-1-0"});
    // Asked for directly, y=3 clashes with x.
    auto clash = solve_fresh(channels, {"x", "y=3"});
    REQUIRE(clash.size() == 1);
    CHECK(clash[0].find("unsatisfiable") == 0);
    CHECK(clash[0].find("y <2") != std::string::npos);
}

TEST_CASE("reach: glob and channel-qualified dependencies reach their packages", "[solver]") {
    auto channels = one_channel({
        record("app", "1", {"libfoo*"}),
        record("libfoo-core", "2"),
        record("tool", "1", {"local::helper >=2"}),
        record("helper", "1"),
        record("helper", "2"),
    });
    CHECK(solve_fresh(channels, {"app"}) == std::vector<std::string>{"app-1-0", "libfoo-core-2-0"});
    CHECK(solve_fresh(channels, {"tool"}) == std::vector<std::string>{"helper-2-0", "tool-1-0"});
}

TEST_CASE("reach: pip comes with python when conda adds it", "[solver]") {
    auto channels = one_channel({record("python", "3.11.4"), record("pip", "24.0", {"python"})});
    SolverOptions with_pip;
    with_pip.add_pip_as_python_dependency = PipAsPythonDependency::yes;
    CHECK(solve_fresh(channels, {"python"}, with_pip) ==
          std::vector<std::string>{"pip-24.0-0", "python-3.11.4-0"});
    SolverOptions without;
    without.add_pip_as_python_dependency = PipAsPythonDependency::no;
    CHECK(solve_fresh(channels, {"python"}, without) ==
          std::vector<std::string>{"python-3.11.4-0"});
}

TEST_CASE("reach: a reused Solver answers each request as a fresh one would", "[solver]") {
    const auto& index = shared_channel("conda-test-index");
    const std::vector<std::vector<std::string>> requests = {
        {"python=3.3"}, {"numpy"}, {"iopro"}, {"anaconda"}, {"numpy", "mkl"}, {"scipy"}};
    auto parse = [](const std::vector<std::string>& request) {
        std::vector<MatchSpec> out;
        for (const auto& s : request) {
            out.push_back(MatchSpec::parse(s));
        }
        return out;
    };
    envpack::Solver reused(index, VirtualPackages::for_platform("linux-64"));
    for (const auto& request : requests) {
        INFO(request.front());
        envpack::Solver fresh(index, VirtualPackages::for_platform("linux-64"));
        auto want = fresh.solve(parse(request));
        auto got = reused.solve(parse(request));
        REQUIRE(want);
        REQUIRE(got);
        CHECK(dists(*got) == dists(*want));
    }
}
