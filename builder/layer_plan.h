// Layer planning (pure): which packages go into which layer, within a layer budget.
//
// Rule (apko-style size grouping, chosen over Nix's popularity ranking because a conda lock has no
// reliable reverse-dependency weights for pip and virtual packages, and because size is what makes
// a layer worth sharing): when every package fits, each gets its own layer. Otherwise the
// `budget - 1` largest packages (ties broken by name) get their own layers and all the others share
// one layer. A layer's contents depend only on its packages, so identical packages give identical
// layers across images, and changing one package changes exactly one package layer (its own, or
// the shared one), plus the small final conda-meta layer that the builder always adds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace envpack {

struct PlanInput {
    std::string name;
    std::uint64_t size = 0;  // installed bytes
};

struct PlannedLayer {
    std::vector<std::size_t> packages;  // indexes into the input, ascending
    bool shared = false;                // the layer of small packages
};

// `budget` = layers available for packages (>= 1 unless there are no packages). Layers come out in
// a stable order: the shared layer first (when there is one), then one layer per package in input
// order. Throws a bad-input Error when budget is 0 and there are packages.
std::vector<PlannedLayer> plan_layers(const std::vector<PlanInput>& packages, std::size_t budget);

}  // namespace envpack
