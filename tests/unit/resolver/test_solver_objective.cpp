// The solver's objective pass (detail/solver_objective.h): on hand-made channels where libsolv's
// local choices end with an older python, more tracked features, or an older requested package
// than conda classic's objective allows. Each case also solves with SolutionPolicy::first_found
// (plain libsolv) and checks that it gives a different lock, so the pass is what makes the
// difference.
#include <catch2/catch.hpp>

#include <random>

#include "solver_fixtures.h"

using namespace envpack;
using envpack::test::channel;
using envpack::test::dists;
using envpack::test::record;
using envpack::test::specs;

namespace {

std::vector<std::string> solve_with(const std::vector<ChannelRecords>& channels,
                                    std::initializer_list<const char*> request,
                                    SolutionPolicy policy) {
    SolverOptions options;
    options.solution_policy = policy;
    Solver solver(channels, VirtualPackages::for_platform("linux-64"), options);
    auto result = solver.solve(specs(request));
    REQUIRE(result);
    return dists(*result);
}

PackageRecord featured(PackageRecord r, std::vector<std::string> features) {
    r.track_features = std::move(features);
    return r;
}

}  // namespace

TEST_CASE("solver objective: python is never older than a consistent newer one") {
    // numpy 1.0 has a py311 build with the higher build number and a py312 build. libsolv takes
    // the higher build number and so python 3.11; conda's objective (python's version before
    // the dependencies' build numbers) takes python 3.12.
    std::vector<ChannelRecords> channels{
        channel("c", {record("numpy", "1.0", {"python 3.11.*"}, {}, "py311_1", 1),
                      record("numpy", "1.0", {"python 3.12.*"}, {}, "py312_0", 0),
                      record("python", "3.11.8"), record("python", "3.12.2")})};
    auto best = solve_with(channels, {"numpy"}, SolutionPolicy::conda_objective);
    CHECK(best == std::vector<std::string>{"numpy-1.0-py312_0", "python-3.12.2-0"});
    auto plain = solve_with(channels, {"numpy"}, SolutionPolicy::first_found);
    CHECK(plain == std::vector<std::string>{"numpy-1.0-py311_1", "python-3.11.8-0"});
}

TEST_CASE("solver objective: a constraint a newer python would violate is avoided") {
    // `aaa-lib` 2 (preferred by libsolv, decided first) constrains python <3.12; lib 1 does not.
    // conda's objective keeps python 3.12 and takes lib 1.
    std::vector<ChannelRecords> channels{
        channel("c", {record("app", "1.0", {"aaa-lib", "python"}),
                      record("aaa-lib", "2.0", {}, {"python <3.12"}), record("aaa-lib", "1.0"),
                      record("python", "3.11.8"), record("python", "3.12.2")})};
    auto best = solve_with(channels, {"app"}, SolutionPolicy::conda_objective);
    CHECK(best == std::vector<std::string>{"aaa-lib-1.0-0", "app-1.0-0", "python-3.12.2-0"});
    auto plain = solve_with(channels, {"app"}, SolutionPolicy::first_found);
    CHECK(plain == std::vector<std::string>{"aaa-lib-2.0-0", "app-1.0-0", "python-3.11.8-0"});
}

TEST_CASE("solver objective: fewer tracked features over the whole solution") {
    // b's unfeatured build (libsolv's pick) needs c >=2, which tracks two features; b's
    // featured build tracks one and works with c 1. conda minimises the count: one feature.
    std::vector<ChannelRecords> channels{
        channel("c", {record("a", "1.0", {"b", "c"}), record("b", "1.0", {"c >=2"}, {}, "plain_0"),
                      featured(record("b", "1.0", {"c"}, {}, "g_0"), {"g"}),
                      featured(record("c", "2.0"), {"f1", "f2"}), record("c", "1.0")})};
    auto best = solve_with(channels, {"a"}, SolutionPolicy::conda_objective);
    CHECK(best == std::vector<std::string>{"a-1.0-0", "b-1.0-g_0", "c-1.0-0"});
    auto plain = solve_with(channels, {"a"}, SolutionPolicy::first_found);
    CHECK(plain == std::vector<std::string>{"a-1.0-0", "b-1.0-plain_0", "c-2.0-0"});
}
