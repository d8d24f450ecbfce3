#include "resolver/lock.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "resolver/channel_loader.h"
#include "resolver/match_spec.h"
#include "resolver/pip_lock.h"

namespace envpack {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_default_channel = "conda-forge";
constexpr std::string_view k_virtuals_key = "envpack.virtual-packages.";
constexpr std::string_view k_include_key = "envpack.include.";

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<MatchSpec> parse_specs(const EnvSpec& spec) {
    std::vector<MatchSpec> out;
    for (size_t i = 0; i < spec.dependencies.size(); ++i) {
        try {
            out.push_back(MatchSpec::parse(spec.dependencies[i]));
        } catch (const Error& e) {
            SourcePos pos = i < spec.dependency_pos.size() ? spec.dependency_pos[i] : SourcePos{};
            throw bad_input(spec.located_message(pos, e.what()), e.hint());
        }
    }
    return out;
}

std::vector<std::string> channel_texts(const EnvSpec& spec) {
    if (spec.channels.empty()) {
        return {std::string(k_default_channel)};
    }
    return spec.channels;
}

std::vector<Channel> parse_channels(const EnvSpec& spec, const ChannelOptions& options) {
    std::vector<Channel> channels;
    const std::vector<std::string> texts = channel_texts(spec);
    for (size_t i = 0; i < texts.size(); ++i) {
        try {
            for (auto& c : Channel::parse_expanded(texts[i], spec.base_dir(), options)) {
                channels.push_back(std::move(c));
            }
        } catch (const Error& e) {
            SourcePos pos = i < spec.channel_pos.size() ? spec.channel_pos[i] : SourcePos{};
            throw bad_input(spec.located_message(pos, e.what()), e.hint());
        }
    }
    return channels;
}

// Local channels of the file as (url + "/", text as written without a trailing '/'), longest URL
// first so a channel nested in another is matched before it.
std::vector<std::pair<std::string, std::string>> local_channels(const EnvSpec& spec) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& text : spec.channels) {
        try {
            Channel c = Channel::parse(text, spec.base_dir());
            if (c.kind() == Channel::Kind::local) {
                std::string written = text;
                while (written.size() > 1 && written.back() == '/') {
                    written.pop_back();
                }
                out.emplace_back(c.url() + "/", written);
            }
        } catch (const Error&) {
            // A malformed channel is reported by the solve; it names no package here.
        }
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    return out;
}

std::string trim(std::string_view s) {
    size_t a = s.find_first_not_of(" \t\r");
    if (a == std::string_view::npos) {
        return {};
    }
    size_t b = s.find_last_not_of(" \t\r");
    return std::string(s.substr(a, b - a + 1));
}

// The file a requirements line includes (`-r F`, `-rF`, `--requirement F`, `--requirement=F`,
// and the same for `-c`/`--constraint`), or "".
std::string included_file(std::string_view line) {
    std::string s = trim(line);
    for (std::string_view opt : {"--requirement", "--constraint", "-r", "-c"}) {
        if (!s.starts_with(opt)) {
            continue;
        }
        std::string rest = s.substr(opt.size());
        if (opt.starts_with("--") && !rest.empty() && rest[0] != '=' && rest[0] != ' ' &&
            rest[0] != '\t') {
            continue;  // another long option that starts the same way
        }
        if (!rest.empty() && rest[0] == '=') {
            rest.erase(0, 1);
        }
        rest = trim(rest);
        if (size_t hash = rest.find(" #"); hash != std::string::npos) {
            rest = trim(rest.substr(0, hash));
        }
        return rest;
    }
    return {};
}

void collect_includes(const fs::path& base, const fs::path& dir_rel,
                      const std::vector<std::string>& lines,
                      std::map<std::string, std::string>& out, int depth) {
    for (const auto& line : lines) {
        std::string name = included_file(line);
        if (name.empty()) {
            continue;
        }
        fs::path rel =
            fs::path(name).is_absolute() ? fs::path(name) : (dir_rel / name).lexically_normal();
        std::string key = rel.generic_string();
        if (out.contains(key)) {
            continue;
        }
        fs::path full = rel.is_absolute() ? rel : base / rel;
        std::string text;
        try {
            text = read_file(full);
        } catch (const Error&) {
            out[key] = "missing";
            continue;
        }
        out[key] = Digest::of(text).hex();
        if (depth < 16) {
            std::vector<std::string> nested;
            size_t start = 0;
            while (start <= text.size()) {
                size_t end = text.find('\n', start);
                nested.push_back(
                    text.substr(start, end == std::string::npos ? std::string::npos : end - start));
                if (end == std::string::npos) {
                    break;
                }
                start = end + 1;
            }
            collect_includes(base, rel.parent_path(), nested, out, depth + 1);
        }
    }
}

std::string describe_virtual_change(const std::string& was, const std::string& now) {
    auto split = [](const std::string& s) {
        std::set<std::string> out;
        size_t start = 0;
        while (start < s.size()) {
            size_t end = s.find(' ', start);
            std::string token = s.substr(start, end == std::string::npos ? end : end - start);
            if (!token.empty()) {
                out.insert(token);
            }
            if (end == std::string::npos) {
                break;
            }
            start = end + 1;
        }
        return out;
    };
    std::set<std::string> a = split(was);
    std::set<std::string> b = split(now);
    std::vector<std::string> parts;
    for (const auto& t : b) {
        if (!a.contains(t)) {
            parts.push_back("+" + t);
        }
    }
    for (const auto& t : a) {
        if (!b.contains(t)) {
            parts.push_back("-" + t);
        }
    }
    return fmt::format("{}", fmt::join(parts, " "));
}

}  // namespace

VirtualPackages target_virtual_packages(std::string_view platform,
                                        const std::vector<std::string>& overrides) {
    VirtualPackages v = VirtualPackages::for_platform(platform);
    for (const auto& o : overrides) {
        v.apply_override(o);
    }
    return v;
}

std::string virtual_packages_text(const VirtualPackages& virtuals) {
    std::vector<std::string> parts;
    for (const auto& r : virtuals.records()) {
        parts.push_back(fmt::format("{}={}={}", r.name, r.version, r.build));
    }
    std::sort(parts.begin(), parts.end());
    return fmt::format("{}", fmt::join(parts, " "));
}

std::map<std::string, std::string> included_file_hashes(const EnvSpec& spec) {
    std::map<std::string, std::string> out;
    collect_includes(spec.base_dir(), fs::path(), spec.pip, out, 0);
    return out;
}

void record_lock_inputs(LockFile& lock, const EnvSpec& spec, std::string_view platform,
                        const std::vector<std::string>& overrides) {
    lock.content_hash[std::string(platform)] = env_content_hash(spec, platform);
    lock.custom_metadata[std::string(k_virtuals_key) + std::string(platform)] =
        virtual_packages_text(target_virtual_packages(platform, overrides));
    std::erase_if(lock.custom_metadata,
                  [](const auto& kv) { return kv.first.starts_with(k_include_key); });
    for (const auto& [path, hash] : included_file_hashes(spec)) {
        lock.custom_metadata[std::string(k_include_key) + path] = hash;
    }
}

Error LockUnsatisfiable::to_error(const std::filesystem::path& env_file) const {
    return Error(
        fmt::format("lock `{}` for {}: {}", env_file.string(), platform, detail.explanation),
        "relax or remove one of the conflicting specs, or add a channel that has a "
        "compatible version",
        ExitCode::unsatisfiable);
}

std::expected<LockFile, LockUnsatisfiable> lock_environment(const EnvSpec& spec,
                                                            const LockOptions& options, Log& log) {
    if (spec.channels.empty()) {
        log.warnf("{}: no channels; using {}", spec.file.string(), k_default_channel);
    }
    const std::vector<Channel> channels = parse_channels(spec, options.channel_options);
    const std::vector<MatchSpec> specs = parse_specs(spec);
    if (options.platforms.empty()) {
        throw bad_input("lock: no platform to lock for", "give one with -p, e.g. -p linux-64");
    }

    FetchOptions fetch_options;
    fetch_options.cache_dir = options.repodata_cache;
    fetch_options.offline = options.offline;
    ChannelLoader loader(fetch_options, options.http, log);  // repodata.json or CEP 16 shards

    LockFile lock;
    lock.channels = channel_texts(spec);
    lock.platforms = options.platforms;
    lock.sources = {spec.file.filename().string()};
    for (const auto& platform : options.platforms) {
        auto t0 = std::chrono::steady_clock::now();
        std::vector<ChannelRecords> channel_records = loader.load(
            channels, platform, specs, options.solver_options.add_pip_as_python_dependency);
        std::size_t total = 0;
        for (const auto& cr : channel_records) {
            total += cr.records.size();
        }
        log.infof("{}: read {} records from {} channel(s) in {:.3f} s", platform, total,
                  channels.size(), seconds_since(t0));
        std::vector<PreferredPackage> preferred;
        if (options.preferred != nullptr) {
            for (const auto* p : options.preferred->packages_for(platform)) {
                if (p->manager == "conda") {
                    preferred.push_back({p->name, p->version, p->build()});
                }
            }
        }
        const VirtualPackages virtuals =
            target_virtual_packages(platform, options.virtual_overrides);
        auto t1 = std::chrono::steady_clock::now();
        Solver solver(channel_records, virtuals, options.solver_options);
        auto result = solver.solve(specs, preferred);
        log.infof("{}: solved in {:.3f} s ({} of {} records reached by the request{})", platform,
                  seconds_since(t1), solver.reached_count(), solver.record_count(),
                  preferred.empty()
                      ? std::string()
                      : fmt::format("; {} versions of the old lock preferred", preferred.size()));
        if (!result) {
            return std::unexpected(LockUnsatisfiable{platform, std::move(result.error())});
        }
        for (const auto& record : result->records) {
            lock.packages.push_back(LockedPackage::from_record(record, platform));
        }
        if (!spec.pip.empty()) {
            auto t2 = std::chrono::steady_clock::now();
            PipLockRequest pip_request;
            pip_request.platform = platform;
            pip_request.cache_dir = options.repodata_cache.parent_path() / "pip";
            pip_request.http = options.http;
            pip_request.offline = options.offline == Offline::yes;
            auto pip = lock_pip_list(spec, result->records, virtuals, pip_request, log);
            if (!pip) {
                return std::unexpected(LockUnsatisfiable{
                    platform, Unsatisfiable{{}, std::move(pip.error().explanation)}});
            }
            log.infof("{}: locked {} pip package(s) in {:.3f} s", platform, pip->size(),
                      seconds_since(t2));
            std::move(pip->begin(), pip->end(), std::back_inserter(lock.packages));
        }
        record_lock_inputs(lock, spec, platform, options.virtual_overrides);
    }
    return lock;
}

LockFreshness lock_freshness(const LockFile& lock, const EnvSpec& spec,
                             const std::vector<std::string>& platforms,
                             const std::vector<std::string>& overrides) {
    auto stale = [](std::string reason) {
        return LockFreshness{LockFreshnessState::stale, std::move(reason)};
    };
    const std::string file = spec.file.filename().string();
    const auto locals = local_channels(spec);
    for (const auto& platform : platforms) {
        auto hash = lock.content_hash.find(platform);
        if (hash == lock.content_hash.end()) {
            return stale(fmt::format("it has no packages for {}", platform));
        }
        if (hash->second != env_content_hash(spec, platform)) {
            return stale(fmt::format("`{}` changed since it was locked", file));
        }
        auto recorded = lock.custom_metadata.find(std::string(k_virtuals_key) + platform);
        if (recorded == lock.custom_metadata.end()) {
            return stale(
                fmt::format("it does not record the virtual packages it was solved "
                            "for on {}",
                            platform));
        }
        const std::string now = virtual_packages_text(target_virtual_packages(platform, overrides));
        if (recorded->second != now) {
            return stale(fmt::format("the virtual packages for {} changed ({})", platform,
                                     describe_virtual_change(recorded->second, now)));
        }
        for (const auto* p : lock.packages_for(platform)) {
            if (p->manager != "conda" || !p->url.starts_with("file://")) {
                continue;  // pip wheels from --find-links folders are named by the pip list
            }
            bool inside = std::any_of(locals.begin(), locals.end(),
                                      [&](const auto& l) { return p->url.starts_with(l.first); });
            if (!inside) {
                return stale(
                    fmt::format("its package `{}` comes from a local channel the "
                                "environment file does not name here ({})",
                                p->name, p->url));
            }
        }
    }
    std::map<std::string, std::string> recorded_includes;
    for (const auto& [key, value] : lock.custom_metadata) {
        if (key.starts_with(k_include_key)) {
            recorded_includes[key.substr(k_include_key.size())] = value;
        }
    }
    const auto includes = included_file_hashes(spec);
    for (const auto& [path, hash] : includes) {
        auto it = recorded_includes.find(path);
        if (it == recorded_includes.end()) {
            return stale(fmt::format("`{}` now includes `{}`", file, path));
        }
        if (it->second != hash) {
            return stale(
                fmt::format("`{}` (included by `{}`) changed since it was locked", path, file));
        }
    }
    for (const auto& [path, hash] : recorded_includes) {
        if (!includes.contains(path)) {
            return stale(fmt::format("`{}` no longer includes `{}`", file, path));
        }
    }
    return {};
}

std::string_view to_string(LockAction action) {
    switch (action) {
        case LockAction::used:
            return "used";
        case LockAction::created:
            return "created";
        case LockAction::relocked:
            return "relocked";
    }
    return "used";
}

EnsuredLock ensure_lock(const EnvSpec& spec, const fs::path& lock_path, LockPolicy mode,
                        const LockOptions& options, Log& log) {
    EnsuredLock out;
    out.path = lock_path;
    std::error_code ec;
    const bool exists = fs::exists(lock_path, ec);
    if (mode == LockPolicy::frozen) {
        if (!exists) {
            throw bad_input(fmt::format("--frozen: no lock file `{}`", lock_path.string()),
                            "drop --frozen to lock first, or name the lock with --lock FILE");
        }
        out.lock = LockFile::load(lock_path);
        for (const auto& platform : options.platforms) {
            if (out.lock.packages_for(platform).empty() &&
                !out.lock.content_hash.contains(platform)) {
                throw bad_input(fmt::format("--frozen: `{}` has no packages for {}",
                                            lock_path.string(), platform),
                                "drop --frozen to lock that platform");
            }
        }
        return out;
    }
    std::optional<LockFile> old;
    if (exists) {
        old = LockFile::load(lock_path);
        LockFreshness f = lock_freshness(*old, spec, options.platforms, options.virtual_overrides);
        if (f.fresh()) {
            out.lock = std::move(*old);
            return out;
        }
        out.reason = std::move(f.reason);
    } else {
        out.reason = "there was no lock";
    }
    if (mode == LockPolicy::locked) {
        throw bad_input(
            exists ? fmt::format("--locked: `{}` is stale: {}", lock_path.string(), out.reason)
                   : fmt::format("--locked: no lock file `{}`", lock_path.string()),
            fmt::format("run `envpack lock -f {}` (or build without --locked) and keep the lock "
                        "with the environment file",
                        spec.file.string()));
    }
    LockOptions solve_options = options;
    solve_options.preferred = old ? &*old : nullptr;
    auto solved = lock_environment(spec, solve_options, log);
    if (!solved) {
        throw solved.error().to_error(spec.file);
    }
    LockFile lock = std::move(*solved);
    if (old) {
        // Platforms of the old lock this solve did not cover stay as they were.
        for (const auto& platform : old->platforms) {
            if (std::find(lock.platforms.begin(), lock.platforms.end(), platform) !=
                lock.platforms.end()) {
                continue;
            }
            lock.platforms.push_back(platform);
            for (const auto* p : old->packages_for(platform)) {
                lock.packages.push_back(*p);
            }
            if (auto h = old->content_hash.find(platform); h != old->content_hash.end()) {
                lock.content_hash[platform] = h->second;
            }
            const std::string key = std::string(k_virtuals_key) + platform;
            if (auto v = old->custom_metadata.find(key); v != old->custom_metadata.end()) {
                lock.custom_metadata[key] = v->second;
            }
        }
    }
    if (lock_path.has_parent_path()) {
        make_dirs(lock_path.parent_path());
    }
    write_file_atomic(lock_path, lock.to_string());
    out.lock = std::move(lock);
    out.action = exists ? LockAction::relocked : LockAction::created;
    return out;
}

fs::path default_lock_path(const EnvSpec& spec) {
    return spec.base_dir() / "conda-lock.yml";
}

fs::path home_lock_path(const fs::path& home, const fs::path& env_file) {
    std::error_code ec;
    fs::path absolute = fs::absolute(env_file, ec).lexically_normal();
    return home / "locks" / Digest::of(absolute.string()).hex().substr(0, 32) / "conda-lock.yml";
}

std::string portable_url(std::string_view url, const EnvSpec& spec) {
    if (!url.starts_with("file://")) {
        return std::string(url);
    }
    for (const auto& [prefix, written] : local_channels(spec)) {
        if (url.starts_with(prefix)) {
            return written + "/" + std::string(url.substr(prefix.size()));
        }
    }
    return std::string(url);
}

std::string portable_lock_text(const LockFile& lock, const EnvSpec& spec) {
    LockFile copy = lock;
    const auto locals = local_channels(spec);
    for (auto& p : copy.packages) {
        for (const auto& [prefix, written] : locals) {
            if (p.url.starts_with(prefix)) {
                p.url = written + "/" + p.url.substr(prefix.size());
                break;
            }
        }
    }
    return copy.to_string();
}

}  // namespace envpack
