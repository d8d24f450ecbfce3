#include "resolver/solver.h"

#include "core/error.h"

namespace envpack {

struct Solver::Impl {};

Solver::Solver(std::span<const ChannelRecords>, const VirtualPackages&, SolverOptions)
    : m_impl(std::make_unique<Impl>()) {}
Solver::~Solver() = default;

std::expected<Solution, Unsatisfiable> Solver::solve(const std::vector<MatchSpec>&) {
    throw Error("solver: not implemented yet");
}

size_t Solver::record_count() const { return 0; }

std::expected<Solution, Unsatisfiable> solve(const SolveRequest& request) {
    Solver solver(request.channels, request.virtuals, request.options);
    return solver.solve(request.specs);
}

}  // namespace envpack
