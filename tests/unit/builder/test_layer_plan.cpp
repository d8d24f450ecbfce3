#include <catch2/catch.hpp>

#include "builder/layer_plan.h"
#include "core/error.h"

using namespace envpack;

namespace {
std::vector<PlanInput> inputs(std::initializer_list<std::pair<const char*, std::uint64_t>> l) {
    std::vector<PlanInput> out;
    for (auto& [n, s] : l) {
        out.push_back({n, s});
    }
    return out;
}
}  // namespace

TEST_CASE("layer plan: one layer per package when they fit") {
    auto plan = plan_layers(inputs({{"a", 10}, {"b", 20}, {"c", 5}}), 3);
    REQUIRE(plan.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
        REQUIRE(plan[i].packages == std::vector<size_t>{i});
        REQUIRE_FALSE(plan[i].shared);
    }
}

TEST_CASE("layer plan: the largest packages get their own layers, the rest share one") {
    auto in = inputs({{"a", 10}, {"b", 500}, {"c", 5}, {"d", 300}, {"e", 7}});
    auto plan = plan_layers(in, 3);
    REQUIRE(plan.size() == 3);
    REQUIRE(plan[0].shared);
    REQUIRE(plan[0].packages == std::vector<size_t>{0, 2, 4});
    REQUIRE(plan[1].packages == std::vector<size_t>{1});
    REQUIRE(plan[2].packages == std::vector<size_t>{3});
}

TEST_CASE("layer plan: ties broken by name, stable under input order") {
    auto plan = plan_layers(inputs({{"z", 100}, {"a", 100}, {"m", 1}}), 2);
    REQUIRE(plan[0].packages == std::vector<size_t>{0, 2});
    REQUIRE(plan[1].packages == std::vector<size_t>{1});
}

TEST_CASE("layer plan: changing one small package changes only the shared layer") {
    auto before = plan_layers(inputs({{"a", 10}, {"b", 500}, {"c", 5}, {"d", 300}}), 3);
    auto after = plan_layers(inputs({{"a", 12}, {"b", 500}, {"c", 5}, {"d", 300}}), 3);
    REQUIRE(before.size() == after.size());
    for (size_t i = 0; i < before.size(); ++i) {
        REQUIRE(before[i].packages == after[i].packages);
    }
}

TEST_CASE("layer plan: budget 1 puts everything in one layer; 0 is an error; empty is empty") {
    auto plan = plan_layers(inputs({{"a", 1}, {"b", 2}}), 1);
    REQUIRE(plan.size() == 1);
    REQUIRE(plan[0].packages == std::vector<size_t>{0, 1});
    REQUIRE_THROWS_AS(plan_layers(inputs({{"a", 1}}), 0), Error);
    REQUIRE(plan_layers({}, 0).empty());
}

TEST_CASE("layer plan: never more layers than the budget") {
    std::vector<PlanInput> in;
    for (int i = 0; i < 250; ++i) {
        in.push_back({"p" + std::to_string(i), static_cast<std::uint64_t>(i * 37 % 101)});
    }
    for (size_t budget : {1, 2, 10, 99, 249, 250, 300}) {
        auto plan = plan_layers(in, budget);
        REQUIRE(plan.size() <= budget);
        size_t total = 0;
        for (const auto& l : plan) {
            total += l.packages.size();
        }
        REQUIRE(total == in.size());
    }
}
