// conda's objective over a solution libsolv found: libsolv chooses locally (the best candidate of
// each name when it decides it); conda classic (Resolve.solve) optimises lexicographically over the
// whole solution: the versions of the requested packages first, then the number of tracked
// features, then the build numbers of the requested packages, then everything else. This pass
// re-solves with extra jobs until no requested package (and no `python`) can be newer, and no
// solution with fewer tracked features keeps those versions. Private to the resolver.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "resolver/detail/solver_pool.h"

namespace envpack::detail {

struct ObjectiveInput {
    const SolvQueue* base_jobs = nullptr;  // the request's jobs (install, virtual packages, favour)
    std::vector<int> chosen;               // entries of the solution libsolv found
    std::vector<std::string> names;        // requested names in order, then `python`
};

// Returns the improved solution (entries, channel records only). Each step costs one libsolv solve
// at most per improvement found; a name whose chosen record is already the newest it can be costs
// none. Never returns a solution that breaks the request: only satisfiable solves are kept.
std::vector<int> optimise_solution(SolverPool& sp, const ObjectiveInput& input);

}  // namespace envpack::detail
