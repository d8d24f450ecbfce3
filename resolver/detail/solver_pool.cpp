#include "resolver/detail/solver_pool.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace envpack::detail {

SolverPool::SolverPool(std::span<const ChannelRecords> channels, const VirtualPackages& virtuals,
                       SolverOptions options)
    : m_channels(channels),
      m_options(options),
      m_pool(pool_create()),
      m_virtual_records(virtuals.records()) {
    Pool* pool = m_pool.get();
    // The Debian build of libsolv rejects arch `noarch`; every solvable gets `all`, which the pool
    // accepts once an architecture is set (conda's subdirs are merged by the loader instead).
    pool_setarch(pool, "amd64");
    m_ns_require = pool_str2id(pool, "conda", 1);
    m_ns_constrain = pool_str2id(pool, "conda-constrains", 1);

    // conda adds a record `F@` tracking F for every feature any record tracks or carries; it
    // satisfies `*[track_features=F]` (what a `features: F` record depends on) at the cost of one
    // tracked feature, and is never part of a result.
    m_virtual_count = m_virtual_records.size();
    std::set<std::string> features;
    for (const auto& ch : channels) {
        for (const auto& rec : ch.records) {
            features.insert(rec.track_features.begin(), rec.track_features.end());
            features.insert(rec.features.begin(), rec.features.end());
        }
    }
    for (const auto& f : features) {
        PackageRecord r;
        r.name = f + "@";
        r.version = "0";
        r.build = "0";
        r.track_features = {f};
        r.channel = "@features";
        m_virtual_records.push_back(std::move(r));
    }

    // First pass: entries, so that ranks exist before solvables are written.
    bool has_pip = false;
    auto add_entry = [&](const PackageRecord& rec, int channel) {
        Entry e;
        e.record = &rec;
        e.channel = channel;
        e.version = intern_version(rec.version, e.parsed);
        e.feature_count = static_cast<int>(rec.track_features.size() + rec.features.size());
        m_by_name[rec.name].entries.push_back(static_cast<int>(m_entries.size()));
        m_entries.push_back(std::move(e));
        has_pip = has_pip || rec.name == "pip";
    };
    size_t total = m_virtual_records.size();
    for (const auto& ch : channels) {
        total += ch.records.size();
    }
    m_entries.reserve(total);
    for (const auto& rec : m_virtual_records) {
        add_entry(rec, -1);
    }
    for (size_t c = 0; c < channels.size(); ++c) {
        for (const auto& rec : channels[c].records) {
            add_entry(rec, static_cast<int>(c));
        }
    }
    // Strict channel priority: a name comes only from the first channel that has it.
    for (auto& [name, group] : m_by_name) {
        const std::vector<int>& list = group.entries;
        int top = INT32_MAX;
        for (int i : list) {
            top = std::min(top, m_entries[static_cast<size_t>(i)].channel);
        }
        for (int i : list) {
            Entry& e = m_entries[static_cast<size_t>(i)];
            e.allowed = m_options.channel_priority == ChannelPriority::disabled || e.channel == top;
        }
    }
    m_add_pip = m_options.add_pip_as_python_dependency == PipAsPythonDependency::yes && has_pip;

    // Solvables: the target's virtual packages now; channel records when a request reaches
    // their names (include()).
    std::vector<int> virtual_entries(m_virtual_records.size());
    for (size_t i = 0; i < virtual_entries.size(); ++i) {
        virtual_entries[i] = static_cast<int>(i);
    }
    Repo* vrepo = repo_create(pool, "@virtual");
    add_solvables(vrepo, virtual_entries);
    repo_internalize(vrepo);
    // Ranks (the EVRs) are made as names enter the pool.
    std::set<std::string> virtual_names;
    for (const auto& rec : m_virtual_records) {
        virtual_names.insert(rec.name);
        m_by_name.find(rec.name)->second.included = true;
    }
    rank_names(virtual_names);
    pool_setnamespacecallback(pool, &SolverPool::namespace_callback, this);
    index_solvables();
}

void SolverPool::add_solvables(Repo* repo, const std::vector<int>& entries) {
    Pool* pool = m_pool.get();
    if (entries.empty()) {
        return;
    }
    // One block: adding solvables one by one reallocates the pool's array each time.
    Id first = repo_add_solvable_block(repo, static_cast<int>(entries.size()));
    for (size_t k = 0; k < entries.size(); ++k) {
        Entry& e = m_entries[static_cast<size_t>(entries[k])];
        const PackageRecord& rec = *e.record;
        Id p = first + static_cast<Id>(k);
        Solvable* s = pool_id2solvable(pool, p);
        e.solvable = p;
        s->name = pool_str2id(pool, rec.name.c_str(), 1);
        s->evr = rank_id(0);  // rank_names() sets the rank
        s->arch = ARCH_ALL;
        // A plain `name` provide is enough for libsolv's one-per-name rule; a `name = rank`
        // reldep per record would also crowd libsolv's reldep hash (name + 7 * evr collides
        // for consecutive ids).
        s->provides = repo_addid_dep(repo, s->provides, s->name, 0);
        for (const auto& d : rec.depends) {
            s->requires_ = repo_addid_dep(repo, s->requires_, require_dep(d), 0);
        }
        // conda: a record with legacy `features: F` needs a package that tracks F.
        for (const auto& f : rec.features) {
            s->requires_ =
                repo_addid_dep(repo, s->requires_, require_dep(m_feature_dep_prefix + f + "]"), 0);
        }
        if (needs_pip(rec)) {
            s->requires_ = repo_addid_dep(repo, s->requires_, require_dep("pip"), 0);
        }
        for (const auto& c : rec.constrains) {
            s->conflicts = repo_addid_dep(repo, s->conflicts, constrain_dep(c), 0);
        }
    }
}

bool SolverPool::needs_pip(const PackageRecord& rec) const {
    return m_add_pip && rec.name == "python" &&
           (rec.version.starts_with("2.") || rec.version.starts_with("3."));
}

void SolverPool::index_solvables() {
    Pool* pool = m_pool.get();
    m_entry_of_solvable.assign(static_cast<size_t>(pool->nsolvables), -1);
    for (size_t i = 0; i < m_entries.size(); ++i) {
        if (m_entries[i].solvable != 0) {
            m_entry_of_solvable[static_cast<size_t>(m_entries[i].solvable)] = static_cast<int>(i);
        }
    }
    // Also drops libsolv's cached namespace answers, which may now have more providers.
    pool_createwhatprovides(pool);
}

void SolverPool::include(const std::vector<std::string>& names) {
    // conda's reduced index: only the names a request can reach through dependencies (any
    // version, any channel) become solvables. `constrains` do not reach: a name only constrained
    // is never installed, so its records cannot break the constraint.
    std::vector<std::string> queue;
    std::vector<int> scratch;
    auto reach = [&](std::string_view name) {
        if (name.find('*') != std::string_view::npos) {
            for (auto& [n, group] : m_by_name) {
                if (!group.included && glob_matches(name, n)) {
                    group.included = true;
                    queue.push_back(n);
                }
            }
            return;
        }
        auto it = m_by_name.find(name);
        if (it != m_by_name.end() && !it->second.included) {
            it->second.included = true;
            queue.push_back(it->first);
        }
    };
    for (const auto& n : names) {
        reach(n);
    }
    std::vector<std::string> added;
    while (!queue.empty()) {
        std::string name = std::move(queue.back());
        queue.pop_back();
        for (int i : named(name, scratch)) {
            const PackageRecord& rec = *m_entries[static_cast<size_t>(i)].record;
            for (const auto& d : rec.depends) {
                reach(dependency_name(d));
            }
            if (needs_pip(rec)) {
                reach("pip");
            }
        }
        added.push_back(std::move(name));
    }
    if (added.empty()) {
        return;
    }
    // New solvables in entry order, one repo per channel and call.
    std::vector<std::vector<int>> per_channel(m_channels.size());
    for (const auto& name : added) {
        for (int i : m_by_name.at(name).entries) {
            const Entry& e = m_entries[static_cast<size_t>(i)];
            if (e.channel >= 0 && e.solvable == 0) {
                per_channel[static_cast<size_t>(e.channel)].push_back(i);
            }
        }
    }
    for (size_t c = 0; c < per_channel.size(); ++c) {
        std::sort(per_channel[c].begin(), per_channel[c].end());
        if (!per_channel[c].empty()) {
            Repo* repo = repo_create(m_pool.get(), m_channels[c].name.c_str());
            add_solvables(repo, per_channel[c]);
            repo_internalize(repo);
        }
    }
    rank_names(std::set<std::string>(added.begin(), added.end()));
    index_solvables();
}

size_t SolverPool::reached_count() const {
    return static_cast<size_t>(std::count_if(m_entries.begin(), m_entries.end(),
                                             [](const Entry& e) { return e.solvable != 0; }));
}

std::string_view dependency_name(std::string_view spec) {
    // One pass: this runs for every dependency of every record a request reaches.
    static constexpr auto k_stop = [] {
        std::array<bool, 256> t{};
        for (unsigned char c : std::string_view(" =<>!~[(,|:")) {
            t[c] = true;
        }
        return t;
    }();
    size_t start = 0;
    for (size_t i = 0; i < spec.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(spec[i]);
        if (!k_stop[c]) {
            continue;
        }
        if (c == ':' && start == 0) {
            if (i + 1 < spec.size() && spec[i + 1] == ':') {
                start = i + 2;  // channel::name
                ++i;
            }
            continue;  // a channel URL's `https:`
        }
        return spec.substr(start, i - start);
    }
    return spec.substr(start);
}

void SolverPool::rank_names(const std::set<std::string>& names) {
    struct Key {
        int penalty;  // track_features, and legacy features not asked for: fewer is better
        int bonus;    // legacy features that were asked for: more is better (conda's "featured")
        bool parsed;
        const Version* version;
        int channel;
        std::int64_t build_number;
        std::int64_t timestamp;
    };
    std::vector<Key> keys;  // of one name's entries, by position in its list
    // Ascending preference: the last of each name is the one conda would pick first.
    auto less_requested = [&](size_t ia, size_t ib) {
        // conda maximises the version (and channel) of requested names before minimising
        // features, then their build numbers.
        const Key& a = keys[ia];
        const Key& b = keys[ib];
        if (a.parsed != b.parsed) {
            return !a.parsed;
        }
        if (auto c = *a.version <=> *b.version; c != 0) {
            return c < 0;
        }
        if (a.channel != b.channel) {
            return a.channel > b.channel;
        }
        if (a.penalty != b.penalty) {
            return a.penalty > b.penalty;
        }
        if (a.bonus != b.bonus) {
            return a.bonus < b.bonus;
        }
        if (a.build_number != b.build_number) {
            return a.build_number < b.build_number;
        }
        return a.timestamp < b.timestamp;
    };
    auto less = [&](size_t ia, size_t ib) {
        const Key& a = keys[ia];
        const Key& b = keys[ib];
        if (a.penalty != b.penalty) {
            return a.penalty > b.penalty;
        }
        if (a.bonus != b.bonus) {
            return a.bonus < b.bonus;
        }
        if (a.parsed != b.parsed) {
            return !a.parsed;
        }
        if (auto c = *a.version <=> *b.version; c != 0) {
            return c < 0;
        }
        if (a.channel != b.channel) {
            return a.channel > b.channel;  // a lower index is a higher priority
        }
        if (a.build_number != b.build_number) {
            return a.build_number < b.build_number;
        }
        return a.timestamp < b.timestamp;
    };
    Pool* pool = m_pool.get();
    std::vector<size_t> order;
    for (const auto& name : names) {
        auto it = m_by_name.find(name);
        if (it == m_by_name.end()) {
            continue;
        }
        const std::vector<int>& list = it->second.entries;
        keys.clear();
        for (int i : list) {
            const Entry& e = m_entries[static_cast<size_t>(i)];
            int bonus = 0;
            for (const auto& f : e.record->features) {
                bonus += m_active_features.contains(f) ? 1 : 0;
            }
            keys.push_back({e.feature_count - bonus, bonus, e.parsed, e.version, e.channel,
                            e.record->build_number, e.record->timestamp});
        }
        order.resize(list.size());
        for (size_t k = 0; k < order.size(); ++k) {
            order[k] = k;
        }
        if (m_requested.contains(name)) {
            std::stable_sort(order.begin(), order.end(), less_requested);
        } else {
            std::stable_sort(order.begin(), order.end(), less);
        }
        for (size_t r = 0; r < order.size(); ++r) {
            Id p = m_entries[static_cast<size_t>(list[order[r]])].solvable;
            if (p != 0) {
                pool_id2solvable(pool, p)->evr = rank_id(static_cast<int>(r));
            }
        }
    }
}

void SolverPool::rerank(const std::set<std::string>& active,
                        const std::set<std::string>& requested) {
    if (active == m_active_features && requested == m_requested) {
        return;
    }
    std::set<std::string> changed;
    if (active == m_active_features) {
        // Only names that enter or leave the requested set change rank.
        changed = requested;
        changed.insert(m_requested.begin(), m_requested.end());
    } else {
        for (const auto& [name, group] : m_by_name) {
            if (group.included) {
                changed.insert(name);
            }
        }
    }
    m_active_features = active;
    m_requested = requested;
    rank_names(changed);  // names not in the pool yet are ranked when include() reaches them
}

Id SolverPool::namespace_dep(Id ns, std::vector<Id>& cache, std::string_view spec) {
    // libsolv's string pool interns the text; the reldep is then a vector lookup by string id
    // (a hash map keyed by std::string cost twice as much over ~1M dependencies).
    Pool* pool = m_pool.get();
    Id text = pool_strn2id(pool, spec.data(), static_cast<unsigned>(spec.size()), 1);
    if (static_cast<size_t>(text) >= cache.size()) {
        cache.resize(static_cast<size_t>(text) + 1 + cache.size() / 2, 0);
    }
    Id& dep = cache[static_cast<size_t>(text)];
    if (dep == 0) {
        dep = pool_rel2id(pool, ns, text, REL_NAMESPACE, 1);
    }
    return dep;
}

Id SolverPool::require_dep(std::string_view spec) {
    return namespace_dep(m_ns_require, m_require_ids, spec);
}

Id SolverPool::constrain_dep(std::string_view spec) {
    return namespace_dep(m_ns_constrain, m_constrain_ids, spec);
}

Id SolverPool::rank_id(int rank) {
    while (m_rank_ids.size() <= static_cast<size_t>(rank)) {
        m_rank_ids.push_back(
            pool_str2id(m_pool.get(), std::to_string(m_rank_ids.size()).c_str(), 1));
    }
    return m_rank_ids[static_cast<size_t>(rank)];
}

const Version* SolverPool::intern_version(const std::string& text, bool& parsed) {
    // Many records share a version string; parse each once.
    auto it = m_versions.find(text);
    if (it == m_versions.end()) {
        Version v;
        bool ok = Version::try_parse(text, v);
        it = m_versions.emplace(text, std::make_pair(std::move(v), ok)).first;
    }
    parsed = it->second.second;
    return &it->second.first;
}

const MatchSpec* SolverPool::parsed_spec(Id spec_id) {
    auto it = m_spec_cache.find(spec_id);
    if (it == m_spec_cache.end()) {
        std::optional<MatchSpec> parsed;
        try {
            parsed = MatchSpec::parse(pool_id2str(m_pool.get(), spec_id));
        } catch (const std::exception&) {
            parsed.reset();  // a malformed dependency matches nothing; explained as such
        }
        it = m_spec_cache.emplace(spec_id, std::move(parsed)).first;
    }
    return it->second ? &*it->second : nullptr;
}

Id SolverPool::namespace_callback(Pool* pool, void* data, Id name, Id evr) {
    auto* self = static_cast<SolverPool*>(data);
    const MatchSpec* spec = self->parsed_spec(evr);
    if (spec == nullptr) {
        return 0;
    }
    SolvQueue q;
    if (name == self->m_ns_constrain) {
        // Providers of the negation: packages of that name the constraint excludes.
        std::vector<int> scratch;
        for (int i : self->named(spec->name(), scratch)) {
            const Entry& e = self->m_entries[static_cast<size_t>(i)];
            if (e.solvable != 0 && (!e.parsed || !spec->matches(*e.record, *e.version))) {
                q.push(e.solvable);
            }
        }
    } else {
        for (int i : self->matching(*spec)) {
            if (Id p = self->m_entries[static_cast<size_t>(i)].solvable; p != 0) {
                q.push(p);
            }
        }
    }
    // 0 means "nothing"; an empty queue would give offset 1, which libsolv reads as the system.
    return q.size() == 0 ? 0 : pool_queuetowhatprovides(pool, q.get());
}

const std::vector<int>& SolverPool::named(const std::string& name,
                                          std::vector<int>& scratch) const {
    if (name.find('*') == std::string::npos) {
        static const std::vector<int> k_none;
        auto it = m_by_name.find(name);
        return it == m_by_name.end() ? k_none : it->second.entries;
    }
    scratch = entries_named(name);
    return scratch;
}

std::vector<int> SolverPool::entries_named(const std::string& name) const {
    if (name.find('*') == std::string::npos) {
        auto it = m_by_name.find(name);
        return it == m_by_name.end() ? std::vector<int>{} : it->second.entries;
    }
    std::vector<int> out;
    for (size_t i = 0; i < m_entries.size(); ++i) {
        if (glob_matches(name, m_entries[i].record->name)) {
            out.push_back(static_cast<int>(i));
        }
    }
    return out;
}

std::vector<int> SolverPool::matching(const MatchSpec& spec) const {
    std::vector<int> out;
    if (spec.name() == "*" && !spec.track_features().empty()) {
        // `*[track_features=F]`: the feature record F@ is conda's minimal way to satisfy it.
        for (size_t i = m_virtual_count; i < m_virtual_records.size(); ++i) {
            const Entry& e = m_entries[i];
            if (spec.matches(*e.record, *e.version)) {
                out.push_back(static_cast<int>(i));
            }
        }
        if (!out.empty()) {
            return out;
        }
    }
    const bool channel_pinned = spec.channel().has_value();
    std::vector<int> scratch;
    for (int i : named(spec.name(), scratch)) {
        const Entry& e = m_entries[static_cast<size_t>(i)];
        if (!e.parsed || (!e.allowed && !channel_pinned)) {
            continue;
        }
        if (spec.matches(*e.record, *e.version)) {
            out.push_back(i);
        }
    }
    return out;
}

int SolverPool::entry_of(Id solvable) const {
    if (solvable < 0 || static_cast<size_t>(solvable) >= m_entry_of_solvable.size()) {
        return -1;
    }
    return m_entry_of_solvable[static_cast<size_t>(solvable)];
}

std::string SolverPool::spec_of_dep(Id dep) const {
    Pool* pool = m_pool.get();
    if (!ISRELDEP(dep)) {
        return {};
    }
    Reldep* rd = GETRELDEP(pool, dep);
    if (rd->flags != REL_NAMESPACE || (rd->name != m_ns_require && rd->name != m_ns_constrain)) {
        return {};
    }
    return pool_id2str(pool, rd->evr);
}

bool SolverPool::is_constrain_dep(Id dep) const {
    if (!ISRELDEP(dep)) {
        return false;
    }
    Reldep* rd = GETRELDEP(m_pool.get(), dep);
    return rd->flags == REL_NAMESPACE && rd->name == m_ns_constrain;
}

std::string SolverPool::channel_name(int index) const {
    if (index < 0) {
        return "virtual packages";
    }
    return m_channels[static_cast<size_t>(index)].name;
}

std::string SolverPool::channel_list() const {
    std::string out;
    for (const auto& c : m_channels) {
        out += out.empty() ? c.name : ", " + c.name;
    }
    return out.empty() ? "(no channels)" : out;
}

std::string SolverPool::describe(int i) const {
    const Entry& e = m_entries[static_cast<size_t>(i)];
    return fmt::format("{} {} {}", e.record->name, e.record->version, e.record->build);
}

std::string SolverPool::versions_summary(const std::vector<int>& entries) const {
    std::vector<const Entry*> sorted;
    for (int i : entries) {
        sorted.push_back(&m_entries[static_cast<size_t>(i)]);
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const Entry* a, const Entry* b) { return *a->version < *b->version; });
    std::vector<std::string> versions;
    for (const Entry* e : sorted) {
        if (versions.empty() || versions.back() != e->record->version) {
            versions.push_back(e->record->version);
        }
    }
    std::string out;
    const size_t k_max = 12;
    for (size_t i = 0; i < versions.size(); ++i) {
        if (versions.size() > k_max && i == 4) {
            out += fmt::format(", ... ({} more)", versions.size() - k_max);
            i = versions.size() - (k_max - 4);
        }
        out += out.empty() ? versions[i] : ", " + versions[i];
    }
    return out;
}

}  // namespace envpack::detail
