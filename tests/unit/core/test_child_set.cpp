#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "core/child_set.h"

using namespace envpack;
using namespace std::chrono_literals;

TEST_CASE("ChildSet pumps many children at once; lines keep their order per child") {
    constexpr int k_children = 8;
    constexpr int k_lines = 12;
    std::vector<std::pair<int, std::string>> arrivals;  // (child, line) in arrival order
    ChildSet set;
    for (int c = 0; c < k_children; ++c) {
        ChildOptions o;
        o.out = ChildOutput::lines(
            [&arrivals, c](std::string_view l) { arrivals.emplace_back(c, std::string(l)); });
        o.err = ChildOutput::merge();
        std::string script = "i=0; while [ $i -lt " + std::to_string(k_lines) +
                             " ]; do echo line$i; i=$((i+1)); sleep 0.01; done; exit " +
                             std::to_string(c);
        set.add(Child::spawn({"sh", "-c", script}, std::move(o)));
    }
    std::map<ChildSet::Id, ExitStatus> statuses;
    while (!set.all_exited()) {
        for (auto id : set.wait_any().exited) {
            statuses[id] = *set.get(id).status();
        }
    }
    REQUIRE(statuses.size() == k_children);
    for (int c = 0; c < k_children; ++c) {
        CHECK(statuses[c] == ExitStatus::exited(c));
    }
    std::map<int, std::vector<std::string>> per_child;
    int switches = 0;
    for (std::size_t i = 0; i < arrivals.size(); ++i) {
        per_child[arrivals[i].first].push_back(arrivals[i].second);
        if (i > 0 && arrivals[i].first != arrivals[i - 1].first) {
            ++switches;
        }
    }
    for (int c = 0; c < k_children; ++c) {
        REQUIRE(per_child[c].size() == k_lines);
        for (int i = 0; i < k_lines; ++i) {
            CHECK(per_child[c][i] == "line" + std::to_string(i));
        }
    }
    // The output really was interleaved (not one child after another).
    CHECK(switches > k_children * 2);
}

TEST_CASE("ChildSet::wait_any returns for a watched fd and at its deadline") {
    ChildSet set;
    set.add(Child::spawn({"sleep", "30"}));
    auto start = ChildSet::Clock::now();
    auto wake = set.wait_any(start + 50ms);
    CHECK(wake.empty());
    CHECK(ChildSet::Clock::now() - start >= 50ms);

    int efd = ::eventfd(1, EFD_CLOEXEC);
    set.watch(efd);
    wake = set.wait_any();
    CHECK(wake.exited.empty());
    CHECK(wake.ready_fds == std::vector<int>{efd});
    set.unwatch(efd);
    ::close(efd);

    set.get(0).signal(SIGKILL);
    wake = set.wait_any();
    CHECK(wake.exited == std::vector<ChildSet::Id>{0});
    CHECK(set.all_exited());
    CHECK(set.wait_any().empty());  // nothing left to wait for: returns at once
}
