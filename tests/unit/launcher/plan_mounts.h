// Test helper: the mount of a planned container at a destination (a test failure when none).
#pragma once

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string_view>

#include "launcher/plan.h"

namespace envpack::testing {

inline const PlanMount& mount_at(const PlanContainer& c, std::string_view destination) {
    for (const auto& m : c.mounts) {
        if (m.destination == destination) {
            return m;
        }
    }
    FAIL("no mount at " << destination);
    throw std::logic_error("unreachable");
}

}  // namespace envpack::testing
