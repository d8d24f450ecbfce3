#include "resolver/solver.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "resolver/detail/solver_pool.h"

namespace envpack {

struct Solver::Impl {
    detail::SolverPool pool;
    Impl(std::span<const ChannelRecords> channels, const VirtualPackages& virtuals,
         SolverOptions options)
        : pool(channels, virtuals, options) {}
};

Solver::Solver(std::span<const ChannelRecords> channels, const VirtualPackages& virtuals,
               SolverOptions options)
    : m_impl(std::make_unique<Impl>(channels, virtuals, options)) {}

Solver::~Solver() = default;

size_t Solver::record_count() const { return m_impl->pool.size(); }

namespace {

// Dependencies before dependents; ties broken by name so the order is stable.
std::vector<const PackageRecord*> install_order(std::vector<const PackageRecord*> chosen) {
    std::sort(chosen.begin(), chosen.end(),
              [](const PackageRecord* a, const PackageRecord* b) { return a->name < b->name; });
    std::map<std::string, const PackageRecord*> by_name;
    for (const auto* r : chosen) {
        by_name[r->name] = r;
    }
    std::vector<const PackageRecord*> out;
    std::set<std::string> done;
    std::set<std::string> active;
    std::function<void(const PackageRecord*)> visit = [&](const PackageRecord* r) {
        if (done.contains(r->name) || active.contains(r->name)) {
            return;  // a cycle is broken where it is found
        }
        active.insert(r->name);
        for (const auto& d : r->depends) {
            std::string name = d.substr(0, d.find_first_of(" =<>!~["));
            if (auto it = by_name.find(name); it != by_name.end()) {
                visit(it->second);
            }
        }
        active.erase(r->name);
        done.insert(r->name);
        out.push_back(r);
    };
    for (const auto* r : chosen) {
        visit(r);
    }
    return out;
}

}  // namespace

std::expected<Solution, Unsatisfiable> Solver::solve(const std::vector<MatchSpec>& specs) {
    detail::SolverPool& sp = m_impl->pool;
    Pool* pool = sp.pool();

    // libsolv reports success for an install job whose namespace dependency has no providers
    // (it installs nothing): check every requested spec ourselves first.
    for (const auto& spec : specs) {
        if (!sp.matching(spec).empty()) {
            continue;
        }
        std::vector<int> named = sp.entries_named(spec.name());
        if (named.empty()) {
            throw Error(fmt::format("nothing provides the requested `{}`: no package named `{}` in "
                                    "channels {}", spec.to_string(), spec.name(), sp.channel_list()),
                        "check the name, or add a channel that has it", ExitCode::unsatisfiable);
        }
        std::map<int, std::vector<int>> per_channel;
        for (int i : named) {
            per_channel[sp.entry(i).channel].push_back(i);
        }
        std::string available;
        for (const auto& [channel, list] : per_channel) {
            available += fmt::format("\n  {} in {}: {}{}", spec.name(), sp.channel_name(channel),
                                     sp.versions_summary(list),
                                     sp.entry(list.front()).allowed
                                         ? ""
                                         : " (ignored: strict channel priority)");
        }
        throw Error(fmt::format("nothing provides the requested `{}`: `{}` exists but no version "
                                "matches (channels searched: {}); available:{}",
                                spec.to_string(), spec.name(), sp.channel_list(), available),
                    "relax the version or build in the spec", ExitCode::unsatisfiable);
    }

    detail::SolvQueue job;
    std::vector<std::pair<std::string, Id>> roots;
    for (const auto& spec : specs) {
        std::string text = spec.to_string();
        Id dep = sp.require_dep(text);
        job.push2(SOLVER_INSTALL | SOLVER_SOLVABLE_PROVIDES, dep);
        roots.emplace_back(text, dep);
    }
    detail::SolverPtr solver(solver_create(pool));
    solver_set_flag(solver.get(), SOLVER_FLAG_IGNORE_RECOMMENDED, 1);
    if (solver_solve(solver.get(), job.get()) != 0) {
        return std::unexpected(detail::explain_problems(sp, solver.get(), roots));
    }
    detail::SolvQueue decisions;
    solver_get_decisionqueue(solver.get(), decisions.get());
    std::vector<const PackageRecord*> chosen;
    for (int k = 0; k < decisions.size(); ++k) {
        Id p = decisions[k];
        if (p <= 0) {
            continue;
        }
        int e = sp.entry_of(p);
        if (e < 0 || sp.entry(e).channel < 0) {
            continue;  // the system solvable, virtual packages
        }
        chosen.push_back(sp.entry(e).record);
    }
    Solution solution;
    for (const auto* r : install_order(std::move(chosen))) {
        solution.records.push_back(*r);
    }
    return solution;
}

std::expected<Solution, Unsatisfiable> solve(const SolveRequest& request) {
    Solver solver(request.channels, request.virtuals, request.options);
    return solver.solve(request.specs);
}

}  // namespace envpack
