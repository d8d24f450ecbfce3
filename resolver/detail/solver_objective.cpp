#include "resolver/detail/solver_objective.h"

#include <algorithm>
#include <set>

namespace envpack::detail {

namespace {

class Objective {
  public:
    Objective(SolverPool& sp, const SolvQueue& base) : m_sp(sp), m_base(base) {}

    // Solves the request plus the kept jobs plus `extra`; nullopt when that has problems.
    std::optional<std::vector<int>> solve(const std::vector<std::pair<Id, Id>>& extra) {
        SolvQueue job;
        for (int i = 0; i < m_base.size(); ++i) {
            job.push(m_base[i]);
        }
        for (const auto& [how, what] : m_kept) {
            job.push2(how, what);
        }
        for (const auto& [how, what] : extra) {
            job.push2(how, what);
        }
        SolverPtr solver(solver_create(m_sp.pool()));
        solver_set_flag(solver.get(), SOLVER_FLAG_IGNORE_RECOMMENDED, 1);
        if (solver_solve(solver.get(), job.get()) != 0) {
            return std::nullopt;
        }
        SolvQueue decisions;
        solver_get_decisionqueue(solver.get(), decisions.get());
        std::vector<int> chosen;
        for (int k = 0; k < decisions.size(); ++k) {
            Id p = decisions[k];
            int e = p > 0 ? m_sp.entry_of(p) : -1;
            if (e >= 0 && m_sp.entry(e).channel >= 0) {
                chosen.push_back(e);
            }
        }
        return chosen;
    }

    // A job selecting any of `entries` (which must not be empty).
    std::pair<Id, Id> one_of(Id how, const std::vector<int>& entries) {
        SolvQueue q;
        for (int e : entries) {
            q.push(m_sp.entry(e).solvable);
        }
        return {how | SOLVER_SOLVABLE_ONE_OF, pool_queuetowhatprovides(m_sp.pool(), q.get())};
    }

    void keep(std::pair<Id, Id> job) { m_kept.push_back(job); }

  private:
    SolverPool& m_sp;
    const SolvQueue& m_base;
    std::vector<std::pair<Id, Id>> m_kept;
};

int chosen_of(const SolverPool& sp, const std::vector<int>& chosen, const std::string& name) {
    for (int e : chosen) {
        if (sp.entry(e).record->name == name) {
            return e;
        }
    }
    return -1;
}

// Records of `name` a solution may hold: in the pool, parsed, allowed by channel priority.
std::vector<int> candidates(const SolverPool& sp, const std::string& name) {
    std::vector<int> out;
    for (int e : sp.entries_named(name)) {
        const Entry& entry = sp.entry(e);
        if (entry.solvable != 0 && entry.parsed && entry.allowed && entry.channel >= 0) {
            out.push_back(e);
        }
    }
    return out;
}

std::set<std::string> tracked_features(const SolverPool& sp, const std::vector<int>& chosen) {
    std::set<std::string> out;
    for (int e : chosen) {
        const auto& tf = sp.entry(e).record->track_features;
        out.insert(tf.begin(), tf.end());
    }
    return out;
}

// Raises `name` as far as `better` (entries better than the current choice) allows: requires one
// of them; when satisfiable, takes that solution and asks again. Returns the final choice.
template <class Better>
int maximise(Objective& obj, const SolverPool& sp, std::vector<int>& chosen,
             const std::string& name, Better better) {
    int cur = chosen_of(sp, chosen, name);
    std::vector<int> all = candidates(sp, name);
    while (cur >= 0) {
        std::vector<int> up;
        for (int e : all) {
            if (better(sp.entry(e), sp.entry(cur))) {
                up.push_back(e);
            }
        }
        if (up.empty()) {
            break;
        }
        auto solved = obj.solve({obj.one_of(SOLVER_INSTALL, up)});
        if (!solved) {
            break;
        }
        chosen = std::move(*solved);
        cur = chosen_of(sp, chosen, name);
    }
    return cur;
}

}  // namespace

std::vector<int> optimise_solution(SolverPool& sp, const ObjectiveInput& input) {
    Objective obj(sp, *input.base_jobs);
    std::vector<int> chosen = input.chosen;

    // 1. Versions of the requested packages (and python), one name after another.
    for (const auto& name : input.names) {
        int cur = maximise(obj, sp, chosen, name,
                           [](const Entry& a, const Entry& b) { return *a.version > *b.version; });
        if (cur < 0) {
            continue;
        }
        std::vector<int> same;
        for (int e : candidates(sp, name)) {
            if (*sp.entry(e).version == *sp.entry(cur).version) {
                same.push_back(e);
            }
        }
        obj.keep(obj.one_of(SOLVER_INSTALL, same));
    }

    // 2. Fewer tracked features: keep out every record tracking a feature when that still solves
    // with fewer features in all.
    std::set<std::string> features = tracked_features(sp, chosen);
    for (const auto& f : std::set<std::string>(features)) {
        if (!features.contains(f)) {
            continue;
        }
        std::vector<int> trackers;
        for (size_t i = sp.virtual_count(); i < sp.size(); ++i) {
            const Entry& e = sp.entry(static_cast<int>(i));
            if (e.solvable != 0 && e.channel >= 0 &&
                std::find(e.record->track_features.begin(), e.record->track_features.end(), f) !=
                    e.record->track_features.end()) {
                trackers.push_back(static_cast<int>(i));
            }
        }
        if (trackers.empty()) {
            continue;
        }
        auto lock = obj.one_of(SOLVER_LOCK, trackers);
        auto solved = obj.solve({lock});
        if (!solved) {
            continue;
        }
        std::set<std::string> fewer = tracked_features(sp, *solved);
        if (fewer.size() < features.size()) {
            chosen = std::move(*solved);
            features = std::move(fewer);
            obj.keep(lock);
        }
    }

    // 3. Build numbers of the requested packages within the versions kept.
    for (const auto& name : input.names) {
        int cur = maximise(obj, sp, chosen, name, [](const Entry& a, const Entry& b) {
            return *a.version == *b.version && a.record->build_number > b.record->build_number;
        });
        if (cur < 0) {
            continue;
        }
        std::vector<int> same;
        for (int e : candidates(sp, name)) {
            const Entry& entry = sp.entry(e);
            if (*entry.version == *sp.entry(cur).version &&
                entry.record->build_number == sp.entry(cur).record->build_number) {
                same.push_back(e);
            }
        }
        obj.keep(obj.one_of(SOLVER_INSTALL, same));
    }
    return chosen;
}

}  // namespace envpack::detail
