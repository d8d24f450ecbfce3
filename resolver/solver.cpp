#include "resolver/solver.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "resolver/detail/solver_objective.h"
#include "resolver/detail/solver_pool.h"

namespace envpack {

struct Solver::Impl {
    detail::SolverPool pool;
    SolverOptions options;
    Impl(std::span<const ChannelRecords> channels, const VirtualPackages& virtuals,
         SolverOptions opts)
        : pool(channels, virtuals, opts), options(opts) {}
};

Solver::Solver(std::span<const ChannelRecords> channels, const VirtualPackages& virtuals,
               SolverOptions options)
    : m_impl(std::make_unique<Impl>(channels, virtuals, options)) {}

Solver::~Solver() = default;

size_t Solver::record_count() const {
    return m_impl->pool.size();
}

size_t Solver::reached_count() const {
    return m_impl->pool.reached_count();
}

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
            if (auto it = by_name.find(std::string(detail::dependency_name(d)));
                it != by_name.end()) {
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
    return solve(specs, {});
}

std::expected<Solution, Unsatisfiable> Solver::solve(const std::vector<MatchSpec>& specs,
                                                     std::span<const PreferredPackage> preferred) {
    detail::SolverPool& sp = m_impl->pool;
    Pool* pool = sp.pool();

    // Only what the request can reach becomes part of libsolv's pool. `*[track_features=F]`
    // is satisfied by the feature records, which are always there.
    std::vector<std::string> root_names;
    for (const auto& spec : specs) {
        if (spec.name() != "*" || spec.track_features().empty()) {
            root_names.push_back(spec.name());
        }
    }
    sp.include(root_names);

    // libsolv reports success for an install job whose namespace dependency has no providers
    // (it installs nothing): check every requested spec ourselves first.
    for (const auto& spec : specs) {
        if (!sp.matching(spec).empty()) {
            continue;
        }
        std::vector<int> named = sp.entries_named(spec.name());
        if (named.empty()) {
            throw Error(fmt::format("nothing provides the requested `{}`: no package named `{}` in "
                                    "channels {}",
                                    spec.to_string(), spec.name(), sp.channel_list()),
                        "check the name, or add a channel that has it", ExitCode::unsatisfiable);
        }
        std::map<int, std::vector<int>> per_channel;
        for (int i : named) {
            per_channel[sp.entry(i).channel].push_back(i);
        }
        std::string available;
        for (const auto& [channel, list] : per_channel) {
            available += fmt::format(
                "\n  {} in {}: {}{}", spec.name(), sp.channel_name(channel),
                sp.versions_summary(list),
                sp.entry(list.front()).allowed ? "" : " (ignored: strict channel priority)");
        }
        throw Error(fmt::format("nothing provides the requested `{}`: `{}` exists but no version "
                                "matches (channels searched: {}); available:{}",
                                spec.to_string(), spec.name(), sp.channel_list(), available),
                    "relax the version or build in the spec", ExitCode::unsatisfiable);
    }

    // Features the request turns on: asked for explicitly, or tracked by every package that can
    // satisfy a requested spec (`accelerate` always brings mkl).
    std::set<std::string> active;
    for (const auto& spec : specs) {
        active.insert(spec.track_features().begin(), spec.track_features().end());
        std::vector<int> providers = sp.matching(spec);
        std::map<std::string, size_t> tracked;
        for (int i : providers) {
            for (const auto& f : sp.entry(i).record->track_features) {
                ++tracked[f];
            }
        }
        for (const auto& [feature, count] : tracked) {
            if (count == providers.size()) {
                active.insert(feature);
            }
        }
    }
    std::set<std::string> requested;
    for (const auto& spec : specs) {
        if (spec.has_exact_name()) {
            requested.insert(spec.name());
        }
    }

    detail::SolvQueue job;
    std::vector<detail::RootJob> roots;
    for (const auto& spec : specs) {
        std::string text = spec.to_string();
        Id dep = sp.require_dep(text);
        job.push2(SOLVER_INSTALL | SOLVER_SOLVABLE_PROVIDES, dep);
        roots.push_back({text, dep});
    }
    // The target's virtual packages are there whether asked for or not, so that `constrains`
    // on them (`__cuda>=11`) and dependencies see them.
    for (size_t i = 0; i < sp.virtual_count(); ++i) {
        job.push2(SOLVER_INSTALL | SOLVER_SOLVABLE, sp.entry(static_cast<int>(i)).solvable);
    }

    // Favour jobs for the preferred records the request reaches (only those are solvables).
    for (const auto& want : preferred) {
        for (int e : sp.entries_named(want.name)) {
            const detail::Entry& entry = sp.entry(e);
            if (entry.solvable != 0 && entry.channel >= 0 &&
                entry.record->version == want.version && entry.record->build == want.build) {
                job.push2(SOLVER_FAVOR | SOLVER_SOLVABLE, entry.solvable);
            }
        }
    }

    // Once a package that tracks a feature is in, conda prefers the builds carrying it; a
    // tracker found only in the result (`mkl` 11 over 10.3) means solving again with it on.
    std::vector<int> chosen;
    for (int attempt = 0; attempt < 3; ++attempt) {
        sp.rerank(active, requested);
        detail::SolverPtr solver(solver_create(pool));
        solver_set_flag(solver.get(), SOLVER_FLAG_IGNORE_RECOMMENDED, 1);
        if (solver_solve(solver.get(), job.get()) != 0) {
            return std::unexpected(detail::explain_problems(sp, solver.get(), roots));
        }
        detail::SolvQueue decisions;
        solver_get_decisionqueue(solver.get(), decisions.get());
        chosen.clear();
        std::set<std::string> tracked = active;
        for (int k = 0; k < decisions.size(); ++k) {
            Id p = decisions[k];
            int e = p > 0 ? sp.entry_of(p) : -1;
            if (e < 0 || sp.entry(e).channel < 0) {
                continue;  // the system solvable, virtual packages, feature records
            }
            chosen.push_back(e);
            const auto& tf = sp.entry(e).record->track_features;
            tracked.insert(tf.begin(), tf.end());
        }
        if (tracked == active) {
            break;
        }
        active = std::move(tracked);
    }
    if (m_impl->options.solution_policy == SolutionPolicy::conda_objective) {
        detail::ObjectiveInput input;
        input.base_jobs = &job;
        input.chosen = std::move(chosen);
        std::set<std::string> kept;
        for (const auto& want : preferred) {
            kept.insert(want.name);  // a previous lock's choice stays
        }
        for (const auto& spec : specs) {
            if (spec.has_exact_name() && !kept.contains(spec.name()) &&
                std::find(input.names.begin(), input.names.end(), spec.name()) ==
                    input.names.end()) {
                input.names.push_back(spec.name());
            }
        }
        if (!kept.contains("python") &&
            std::find(input.names.begin(), input.names.end(), "python") == input.names.end()) {
            input.names.push_back("python");
        }
        chosen = detail::optimise_solution(sp, input);
    }
    std::vector<const PackageRecord*> records;
    for (int e : chosen) {
        records.push_back(sp.entry(e).record);
    }
    Solution solution;
    for (const auto* r : install_order(std::move(records))) {
        solution.records.push_back(*r);
    }
    return solution;
}

std::expected<Solution, Unsatisfiable> solve(const SolveRequest& request) {
    Solver solver(request.channels, request.virtuals, request.options);
    return solver.solve(request.specs);
}

}  // namespace envpack
