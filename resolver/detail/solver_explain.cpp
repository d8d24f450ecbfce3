// Explaining unsatisfiable requests: libsolv's problem rules become a tree per requested spec
// (spec -> the packages that satisfy it -> what they require -> ...), followed by the clash
// (only one version of a name, a `constrains` entry, a dependency nothing provides) and the
// versions that were available. mamba's bare "could not solve" is what this tries not to be.
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "resolver/detail/solver_pool.h"

namespace envpack::detail {
namespace {

struct Facts {
    std::set<std::string> roots;                       // requested specs involved
    std::map<std::string, std::set<int>> requires_of;  // dep spec -> entries requiring it
    std::map<std::string, std::set<int>> missing;      // dep spec nothing provides -> entries
    std::map<std::string, std::set<int>> same_name;    // name -> entries that clash
    struct Constraint {
        int source;
        int target;
        std::string spec;
    };
    std::vector<Constraint> constraints;
    std::set<int> involved;          // every entry a rule mentions
    std::set<int> virtuals;          // virtual packages of the target involved
    std::vector<std::string> other;  // rules we have no words for
};

class Explainer {
  public:
    Explainer(SolverPool& pool, ::Solver* solver, const std::vector<RootJob>& roots)
        : m_pool(pool), m_solver(solver), m_roots(roots) {}

    Facts collect(Id problem) {
        Facts f;
        SolvQueue rules;
        solver_findallproblemrules(m_solver, problem, rules.get());
        for (int k = 0; k < rules.size(); ++k) {
            Id source = 0;
            Id target = 0;
            Id dep = 0;
            SolverRuleinfo type = solver_ruleinfo(m_solver, rules[k], &source, &target, &dep);
            const bool job_rule = (type & SOLVER_RULE_TYPEMASK) == SOLVER_RULE_JOB;
            int se = job_rule ? -1 : m_pool.entry_of(source);
            int te = job_rule ? -1 : m_pool.entry_of(target);
            if (se >= 0) {
                f.involved.insert(se);
            }
            if (te >= 0) {
                f.involved.insert(te);
            }
            std::string spec = m_pool.spec_of_dep(dep);
            switch (type) {
                case SOLVER_RULE_JOB:
                case SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP:
                case SOLVER_RULE_JOB_UNKNOWN_PACKAGE:
                    if ((target & SOLVER_SELECTMASK) == SOLVER_SOLVABLE) {
                        if (int e = m_pool.entry_of(dep); e >= 0) {
                            f.virtuals.insert(e);
                        }
                        break;
                    }
                    for (const auto& root : m_roots) {
                        if (root.dep == dep) {
                            f.roots.insert(root.text);
                        }
                    }
                    break;
                case SOLVER_RULE_PKG_REQUIRES:
                    if (se >= 0) {
                        f.requires_of[spec].insert(se);
                    }
                    break;
                case SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP:
                    if (se >= 0) {
                        f.missing[spec].insert(se);
                    }
                    break;
                case SOLVER_RULE_PKG_SAME_NAME:
                    if (se >= 0 && te >= 0) {
                        const std::string& name = m_pool.entry(se).record->name;
                        f.same_name[name].insert(se);
                        f.same_name[name].insert(te);
                    }
                    break;
                case SOLVER_RULE_PKG_CONFLICTS:
                    if (se >= 0 && te >= 0) {
                        f.constraints.push_back({se, te, spec});
                    }
                    break;
                default:
                    f.other.push_back(
                        solver_problemruleinfo2str(m_solver, type, source, target, dep));
                    break;
            }
        }
        return f;
    }

    std::string render(const Facts& f) {
        std::string out;
        std::vector<std::string> roots(f.roots.begin(), f.roots.end());
        if (roots.size() >= 2) {
            std::string list;
            for (size_t i = 0; i < roots.size(); ++i) {
                list += i == 0 ? "" : (i + 1 == roots.size() ? " and " : ", ");
                list += "`" + roots[i] + "`";
            }
            out += fmt::format("the requested specs {} conflict:\n", list);
        } else if (roots.size() == 1) {
            out += fmt::format("the requested spec `{}` cannot be installed:\n", roots[0]);
        } else {
            out += "the request cannot be solved:\n";
        }
        std::set<std::string> visited;
        for (const auto& r : roots) {
            render_spec(f, r, 1, visited, out);
        }
        for (const auto& [name, entries] : f.same_name) {
            out += fmt::format(
                "  only one `{}` can be installed, and the chains above need "
                "different ones:\n",
                name);
            for (const auto& r : roots) {
                if (name_of(r) == name) {
                    out += fmt::format("    `{}` wants {}\n", r, versions_matching(r));
                }
            }
            // Who needs which versions of `name`, grouped by the packages that need them.
            std::map<std::string, std::pair<std::vector<std::string>, std::set<int>>> needs;
            for (const auto& [dep, sources] : f.requires_of) {
                if (name_of(dep) != name) {
                    continue;
                }
                auto& n = needs[group(std::vector<int>(sources.begin(), sources.end()))];
                n.first.push_back("`" + dep + "`");
                for (int p : matching_of(dep)) {
                    n.second.insert(p);
                }
            }
            for (const auto& [who, need] : needs) {
                std::string specs;
                for (const auto& d : need.first) {
                    specs += specs.empty() ? d : " or " + d;
                }
                std::vector<int> list(need.second.begin(), need.second.end());
                out += fmt::format("    {} needs {} ({})\n", who, specs,
                                   list.empty() ? "none available" : m_pool.versions_summary(list));
            }
        }
        for (const auto& c : f.constraints) {
            out += fmt::format("  {} constrains `{}`, which excludes {}\n",
                               m_pool.describe(c.source), c.spec, m_pool.describe(c.target));
        }
        for (int v : f.virtuals) {
            const PackageRecord& r = *m_pool.entry(v).record;
            out += fmt::format(
                "  the target image provides {} {} (a virtual package; set it with "
                "--virtual {}=VERSION)\n",
                r.name, r.version, r.name);
        }
        for (const auto& line : f.other) {
            out += "  " + line + "\n";
        }
        // What exists, for each name that clashed or was asked for.
        std::set<std::string> names;
        for (const auto& [name, entries] : f.same_name) {
            names.insert(name);
        }
        for (const auto& r : roots) {
            names.insert(MatchSpec::parse(r).name());
        }
        for (const auto& c : f.constraints) {
            names.insert(m_pool.entry(c.target).record->name);
        }
        for (const auto& [spec, entries] : f.missing) {
            names.insert(name_of(spec));
        }
        out += "  available:\n";
        for (const auto& name : names) {
            std::vector<int> all;
            std::vector<int> pool_entries = m_pool.entries_named(name);
            std::map<int, std::vector<int>> per_channel;
            for (int i : pool_entries) {
                per_channel[m_pool.entry(i).channel].push_back(i);
            }
            if (per_channel.empty()) {
                out += fmt::format("    {}: none in {}\n", name, m_pool.channel_list());
            }
            for (const auto& [channel, list] : per_channel) {
                bool allowed = m_pool.entry(list.front()).allowed;
                out += fmt::format("    {} in {}: {}{}\n", name, m_pool.channel_name(channel),
                                   m_pool.versions_summary(list),
                                   allowed ? "" : " (ignored: a higher-priority channel has it)");
            }
        }
        return out;
    }

  private:
    std::string name_of(const std::string& spec) {
        try {
            return MatchSpec::parse(spec).name();
        } catch (const std::exception&) {
            return spec;
        }
    }

    std::vector<int> matching_of(const std::string& spec) {
        try {
            return m_pool.matching(MatchSpec::parse(spec));
        } catch (const std::exception&) {
            return {};
        }
    }

    std::string versions_matching(const std::string& spec) {
        std::vector<int> list = matching_of(spec);
        return list.empty() ? "nothing available" : m_pool.versions_summary(list);
    }

    std::string group(const std::vector<int>& entries) {
        // "numpy 1.7.0, 1.7.1" (one name) or a list of names.
        std::map<std::string, std::vector<int>> by_name;
        for (int i : entries) {
            by_name[m_pool.entry(i).record->name].push_back(i);
        }
        std::string out;
        for (const auto& [name, list] : by_name) {
            out += out.empty() ? "" : "; ";
            out += name + " " + m_pool.versions_summary(list);
        }
        return out;
    }

    void render_spec(const Facts& f, const std::string& spec, int depth,
                     std::set<std::string>& visited, std::string& out) {
        std::string indent(static_cast<size_t>(depth) * 2, ' ');
        std::vector<int> providers;
        try {
            providers = m_pool.matching(MatchSpec::parse(spec));
        } catch (const std::exception&) {
            out += fmt::format("{}`{}` is not a valid match spec\n", indent, spec);
            return;
        }
        std::vector<int> involved;
        for (int p : providers) {
            if (f.involved.contains(p)) {
                involved.push_back(p);
            }
        }
        const std::vector<int>& shown = involved.empty() ? providers : involved;
        if (shown.empty()) {
            out += fmt::format("{}`{}` matches no package\n", indent, spec);
            return;
        }
        out += fmt::format("{}`{}` is satisfied by {}\n", indent, spec, group(shown));
        if (!visited.insert(spec).second || depth > 6) {
            return;
        }
        // What those packages require, where it matters for this problem.
        std::map<std::string, std::vector<int>> deps;
        for (const auto& [dep, sources] : f.requires_of) {
            for (int s : shown) {
                if (sources.contains(s)) {
                    deps[dep].push_back(s);
                }
            }
        }
        for (const auto& [dep, sources] : f.missing) {
            // One line per missing dependency, naming every shown package that needs it (not
            // one line per build).
            std::vector<int> from;
            for (int s : shown) {
                if (sources.contains(s)) {
                    from.push_back(s);
                }
            }
            if (from.empty()) {
                continue;
            }
            if (dep.starts_with("__")) {
                out += fmt::format(
                    "{}  {} requires `{}`, a virtual package the target "
                    "image does not provide (set it with --virtual {}=VERSION)\n",
                    indent, group(from), dep, name_of(dep));
            } else {
                out += fmt::format("{}  {} requires `{}`, which nothing in {} provides\n", indent,
                                   group(from), dep, m_pool.channel_list());
            }
        }
        for (const auto& [dep, sources] : deps) {
            if (dep.empty()) {
                continue;
            }
            out += fmt::format("{}  {} requires `{}`\n", indent, group(sources), dep);
            render_spec(f, dep, depth + 2, visited, out);
        }
    }

    SolverPool& m_pool;
    ::Solver* m_solver;
    const std::vector<RootJob>& m_roots;
};

}  // namespace

Unsatisfiable explain_problems(SolverPool& pool, ::Solver* solver,
                               const std::vector<RootJob>& root_jobs) {
    Unsatisfiable u;
    Explainer explainer(pool, solver, root_jobs);
    const int count = solver_problem_count(solver);
    std::set<std::string> conflicting;
    std::string text =
        fmt::format("cannot solve the request (channels: {}):\n", pool.channel_list());
    for (Id problem = 1; problem <= count; ++problem) {
        Facts facts = explainer.collect(problem);
        conflicting.insert(facts.roots.begin(), facts.roots.end());
        if (count > 1) {
            text += fmt::format("problem {} of {}: ", problem, count);
        }
        text += explainer.render(facts);
    }
    u.conflicting_specs.assign(conflicting.begin(), conflicting.end());
    if (!u.conflicting_specs.empty()) {
        std::string list;
        for (const auto& s : u.conflicting_specs) {
            list += list.empty() ? s : ", " + s;
        }
        text += fmt::format("to fix it, relax or remove one of: {}\n", list);
    }
    u.explanation = std::move(text);
    return u;
}

}  // namespace envpack::detail
