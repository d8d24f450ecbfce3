// The libsolv pool behind Solver: every record indexed by name with its preference rank; the
// records of the names a request reaches (include()) loaded as solvables with that rank as their
// EVR; conda matching through namespace dependencies; and the bookkeeping that explains problems.
// Private to the resolver.
#pragma once

#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resolver/detail/libsolv.h"
#include "resolver/match_spec.h"
#include "resolver/solver.h"
#include "resolver/version.h"

namespace envpack::detail {

struct Entry {
    const PackageRecord* record = nullptr;
    const Version* version = nullptr;  // interned in SolverPool
    int channel = 0;                   // index into channels; -1 for virtual packages
    Id solvable = 0;                   // 0 until SolverPool::include() reaches the record's name
    int feature_count = 0;             // track_features + legacy features
    bool allowed = true;  // false when a higher-priority channel has this name (strict)
    bool parsed = true;   // false when the version did not parse (never matches)
};

class SolverPool {
  public:
    SolverPool(std::span<const ChannelRecords> channels, const VirtualPackages& virtuals,
               SolverOptions options);

    Pool* pool() const { return m_pool.get(); }
    // Makes solvables of the records of `names` and of every name their dependencies reach
    // (glob names match all they can). Names already in the pool cost nothing.
    void include(const std::vector<std::string>& names);
    // The namespace dependency for `spec` (a requirement) or for its negation (constrains).
    Id require_dep(std::string_view spec);
    Id constrain_dep(std::string_view spec);

    // Entries a spec accepts, honouring channel priority. Throws nothing; a spec that does not
    // parse yields none (and is remembered in bad_specs()).
    std::vector<int> matching(const MatchSpec& spec) const;
    std::vector<int> entries_named(const std::string& name) const;
    const Entry& entry(int i) const { return m_entries[static_cast<size_t>(i)]; }
    int entry_of(Id solvable) const;
    // The spec string behind a namespace dependency, or "" for another dependency.
    std::string spec_of_dep(Id dep) const;
    bool is_constrain_dep(Id dep) const;

    // Legacy features asked for (e.g. by `*[track_features=mkl]`): records carrying them are then
    // preferred, as conda maximises featured packages once a feature is tracked. Re-ranks the
    // pool when the set changes.
    // Names requested by the user rank by version first (conda maximises their versions before
    // minimising features). Re-ranks the pool when either set changes.
    void rerank(const std::set<std::string>& active, const std::set<std::string>& requested);
    // Virtual packages of the target occupy entries [0, virtual_count()).
    size_t virtual_count() const { return m_virtual_count; }

    std::string channel_list() const;
    std::string channel_name(int index) const;
    size_t size() const { return m_entries.size(); }
    size_t reached_count() const;

    // Human texts used in explanations.
    std::string describe(int entry) const;  // "numpy 1.7.1 py27_0 (conda-test-index)"
    std::string versions_summary(const std::vector<int>& entries) const;  // "1.5.1, 1.6.2, ..."

  private:
    static Id namespace_callback(Pool* pool, void* data, Id name, Id evr);
    Id namespace_dep(Id ns, std::vector<Id>& cache, std::string_view spec);
    const MatchSpec* parsed_spec(Id spec_id);
    void add_solvables(Repo* repo, const std::vector<int>& entries);
    void index_solvables();
    bool needs_pip(const PackageRecord& rec) const;
    // The entries of a name without copying (glob names are collected into `scratch`).
    const std::vector<int>& named(const std::string& name, std::vector<int>& scratch) const;
    Id rank_id(int rank);
    const Version* intern_version(const std::string& text, bool& parsed);
    // Sets the preference rank (the EVR of its solvable) of every record of `names` in the pool,
    // from the current active features and requested names.
    void rank_names(const std::set<std::string>& names);

    std::span<const ChannelRecords> m_channels;
    SolverOptions m_options;
    PoolPtr m_pool;
    Id m_ns_require = 0;
    Id m_ns_constrain = 0;
    std::vector<Entry> m_entries;
    bool m_add_pip = false;
    std::vector<int> m_entry_of_solvable;  // indexed by solvable Id
    // Lookups by string_view without building a std::string.
    struct NameHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    struct NameGroup {
        std::vector<int> entries;
        bool included = false;  // its records are solvables (include())
    };
    std::unordered_map<std::string, NameGroup, NameHash, std::equal_to<>> m_by_name;
    std::unordered_map<Id, std::optional<MatchSpec>> m_spec_cache;
    // Namespace reldeps by the string id of their spec text (0: not made yet).
    std::vector<Id> m_require_ids;
    std::vector<Id> m_constrain_ids;
    std::vector<Id> m_rank_ids;
    std::unordered_map<std::string, std::pair<Version, bool>> m_versions;  // node-based: stable
    std::vector<PackageRecord> m_virtual_records;
    size_t m_virtual_count = 0;  // then feature records `F@` up to m_virtual_records.size()
    std::set<std::string> m_active_features;
    std::set<std::string> m_requested;
    std::string m_feature_dep_prefix = "*[track_features=";
};

// The package name a dependency spec names (`numpy >=1.20` -> `numpy`, `conda-forge::numpy`
// -> `numpy`); a glob name (`py*`) comes back as is.
std::string_view dependency_name(std::string_view spec);

// Turns libsolv's problems into an explanation (detail/solver_explain.cpp).
struct RootJob {
    std::string text;  // the requested spec, canonical
    Id dep = 0;
};

Unsatisfiable explain_problems(SolverPool& pool, ::Solver* solver,
                               const std::vector<RootJob>& roots);

}  // namespace envpack::detail
