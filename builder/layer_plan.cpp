#include "builder/layer_plan.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack {

std::vector<PlannedLayer> plan_layers(const std::vector<PlanInput>& packages, std::size_t budget) {
    std::vector<PlannedLayer> out;
    if (packages.empty()) {
        return out;
    }
    if (budget == 0) {
        throw bad_input(fmt::format("no layer left for {} packages", packages.size()),
                        "raise --max-layers or use a base image with fewer layers");
    }
    if (packages.size() <= budget) {
        for (std::size_t i = 0; i < packages.size(); ++i) {
            out.push_back({{i}, false});
        }
        return out;
    }
    std::vector<std::size_t> order(packages.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (packages[a].size != packages[b].size) {
            return packages[a].size > packages[b].size;
        }
        return packages[a].name < packages[b].name;
    });
    std::vector<bool> own(packages.size(), false);
    for (std::size_t k = 0; k + 1 < budget; ++k) {
        own[order[k]] = true;
    }
    PlannedLayer shared{{}, true};
    for (std::size_t i = 0; i < packages.size(); ++i) {
        if (!own[i]) {
            shared.packages.push_back(i);
        }
    }
    out.push_back(std::move(shared));
    for (std::size_t i = 0; i < packages.size(); ++i) {
        if (own[i]) {
            out.push_back({{i}, false});
        }
    }
    return out;
}

}  // namespace envpack
