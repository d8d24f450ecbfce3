#include "resolver/pip_lock.h"

#include <algorithm>
#include <future>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/http.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "resolver/env_file.h"
#include "resolver/pip_fetch.h"
#include "resolver/pip_list.h"
#include "resolver/pip_resolve.h"
#include "resolver/wheel_tags.h"

namespace envpack {

namespace {

// The releases of constrained names limited to what every applicable `-c` line accepts, as pip
// applies constraints (they narrow a name's candidates; they never add a requirement).
class ConstrainedProvider final : public pip_resolve::Provider {
  public:
    ConstrainedProvider(pip_resolve::Provider& inner, const std::vector<pip_list::Line>& lines,
                        const pep508::Environment& env)
        : m_inner(inner) {
        for (const auto& l : lines) {
            if (l.requirement.applies(env)) {
                m_constraints[l.requirement.normalized_name()].push_back(l.requirement.specifier);
            }
        }
    }

    std::vector<pip_resolve::Release> releases(const std::string& name) override {
        auto all = m_inner.releases(name);
        auto it = m_constraints.find(name);
        if (it == m_constraints.end()) {
            return all;
        }
        std::erase_if(all, [&](const pip_resolve::Release& r) {
            return std::any_of(it->second.begin(), it->second.end(),
                               [&](const pep440::SpecifierSet& s) {
                                   return !s.contains(r.version, pep440::PreReleases::allow);
                               });
        });
        return all;
    }

    std::vector<pep508::Requirement> requirements(const std::string& name,
                                                  const pip_resolve::Release& release) override {
        return m_inner.requirements(name, release);
    }

  private:
    pip_resolve::Provider& m_inner;
    std::map<std::string, std::vector<pep440::SpecifierSet>> m_constraints;
};

const PackageRecord* find_record(const std::vector<PackageRecord>& records, std::string_view name) {
    for (const auto& r : records) {
        if (r.name == name) {
            return &r;
        }
    }
    return nullptr;
}

}  // namespace

std::expected<std::vector<LockedPackage>, PipUnresolvable> lock_pip_list(
    const EnvSpec& spec, const std::vector<PackageRecord>& conda, const VirtualPackages& virtuals,
    const PipLockRequest& request, Log& log) {
    const pip_list::PipList list = pip_list::read(spec);
    for (const auto& note : list.notes) {
        log.warn(note);
    }
    if (list.requirements.empty()) {
        return std::vector<LockedPackage>{};
    }
    const PackageRecord* python = find_record(conda, "python");
    if (python == nullptr) {
        throw pip_list::error_at(spec, list.requirements.front().origin,
                                 "the pip list needs a python, and the conda solve has none",
                                 "add `python` (e.g. python=3.11) to the conda dependencies");
    }
    auto python_version = pep440::Version::try_parse(python->version);
    if (!python_version) {
        throw bad_input(fmt::format("{}: python {} from the conda solve is not a PEP 440 version",
                                    spec.file.string(), python->version));
    }
    std::string glibc = "2.17";
    if (const PackageRecord* g = find_record(virtuals.records(), "__glibc")) {
        glibc = g->version;
    }

    pip_fetch::Options fetch;
    fetch.find_links = list.find_links;
    fetch.indexes = list.active_indexes();
    fetch.python = *python_version;
    fetch.pre = list.pre;
    fetch.cache_dir = request.cache_dir;
    const bool remote_sources =
        !fetch.indexes.empty() ||
        std::any_of(fetch.find_links.begin(), fetch.find_links.end(),
                    [](const std::string& f) { return f.starts_with("http"); });
    if (remote_sources && (request.offline || request.http == nullptr)) {
        log.warnf(
            "{}: offline: the pip list's indexes and find-links URLs are not asked ({}); "
            "add `--no-index` to the list to say so",
            spec.file.string(), fmt::join(fetch.indexes, ", "));
        fetch.indexes.clear();
        std::erase_if(fetch.find_links, [](const std::string& f) { return f.starts_with("http"); });
    }

    std::vector<pep508::Requirement> requirements;
    std::map<std::string, std::vector<std::string>> allowed_hashes;  // name -> sha256s
    bool hash_checking = false;
    for (const auto& line : list.requirements) {
        pep508::Requirement r = line.requirement;
        const std::string name = r.normalized_name();
        if (!r.url.empty()) {
            pip_index::IndexFile file;
            std::string url = r.url;
            if (size_t hash = url.find('#'); hash != std::string::npos) {
                const std::string fragment = url.substr(hash + 1);
                url.resize(hash);
                if (fragment.starts_with("sha256=")) {
                    file.hashes["sha256"] = fragment.substr(7);
                }
            }
            file.url = url;
            file.filename = pip_index::percent_decode(url.substr(url.find_last_of('/') + 1));
            file.kind = pip_index::kind_of(file.filename);
            auto w = wheel::WheelFilename::try_parse(file.filename);
            if (!w || w->normalized_name() != name) {
                throw pip_list::error_at(
                    spec, line.origin,
                    fmt::format("`{}` does not name a wheel of `{}`", file.filename, r.name));
            }
            fetch.direct[name] = std::move(file);
            r.url.clear();
        }
        if (!line.sha256.empty()) {
            hash_checking = true;
            auto& allowed = allowed_hashes[name];
            allowed.insert(allowed.end(), line.sha256.begin(), line.sha256.end());
        }
        requirements.push_back(std::move(r));
    }

    const wheel::TargetTags tags(
        wheel::Target::for_image(*python_version, request.platform, glibc));
    pip_fetch::Finder finder(fetch, tags, request.http);

    pip_resolve::Options options;
    options.environment = pep508::Environment::for_target(*python_version, request.platform);
    options.pre = list.pre;
    for (const auto& record : conda) {
        if (auto v = pep440::Version::try_parse(record.version)) {
            options.installed[pep508::normalize_name(record.name)] = *v;
        }
    }
    ConstrainedProvider provider(finder, list.constraints, options.environment);
    auto pins = pip_resolve::resolve(requirements, provider, options);
    if (!pins) {
        std::string why = "pip: " + pins.error().explanation;
        for (const auto& name : finder.unusable_projects()) {
            for (const auto& rejection : finder.rejections(name)) {
                why +=
                    fmt::format("\n  {} was not usable: {}", rejection.filename, rejection.reason);
            }
        }
        return std::unexpected(PipUnresolvable{std::move(why)});
    }

    // The sha256 of every chosen wheel the index gave none for, read side by side (the files are
    // fetched first, one at a time, as the finder fetches).
    std::map<std::string, std::future<std::string>> file_hashes;
    std::optional<ThreadPool> hashers;  // started only when a hash is missing
    for (const auto& pin : *pins) {
        const auto& candidate = finder.candidate(pin.name, pin.release);
        if (!options.installed.contains(pin.name) && !candidate.file.hashes.contains("sha256")) {
            if (!hashers) {
                hashers.emplace(default_thread_count());
            }
            file_hashes[pin.name] =
                hashers->submit([path = finder.wheel_path(pin.name, pin.release), &request] {
                    return pip_fetch::wheel_sha256(path, request.cache_dir);
                });
        }
    }
    std::vector<LockedPackage> out;
    for (const auto& pin : *pins) {
        if (options.installed.contains(pin.name)) {
            continue;  // the conda package answers it
        }
        const auto& candidate = finder.candidate(pin.name, pin.release);
        LockedPackage p;
        p.name = pin.name;
        p.version = pin.release.version.to_string();
        p.manager = "pip";
        p.platform = request.platform;
        p.url = candidate.file.url;
        if (auto sha = candidate.file.hashes.find("sha256"); sha != candidate.file.hashes.end()) {
            p.sha256 = sha->second;
        } else {
            p.sha256 = file_hashes.at(pin.name).get();
        }
        if (hash_checking) {
            auto allowed = allowed_hashes.find(pin.name);
            if (allowed == allowed_hashes.end()) {
                throw bad_input(
                    fmt::format("{}: the pip list checks hashes (`--hash`), and `{}` {} has none",
                                spec.file.string(), pin.name, p.version),
                    fmt::format("add `{}=={} --hash=sha256:{}` to the list (pip's "
                                "--require-hashes mode needs every package pinned and hashed)",
                                pin.name, p.version, p.sha256));
            }
            if (std::find(allowed->second.begin(), allowed->second.end(), p.sha256) ==
                allowed->second.end()) {
                throw protocol_error(
                    fmt::format("{}: `{}` ({}) has sha256 {}, which no `--hash` of `{}` allows",
                                spec.file.string(), candidate.file.filename, redact(p.url),
                                p.sha256, pin.name),
                    "the index serves other bytes than the list expects; check the hashes");
            }
        }
        std::map<std::string, std::vector<std::string>> deps;
        for (const auto& dep : finder.requirements(pin.name, pin.release)) {
            if (!dep.applies(options.environment, pin.extras)) {
                continue;
            }
            auto& specs = deps[dep.normalized_name()];
            if (!dep.specifier.empty()) {
                specs.push_back(dep.specifier.to_string());
            }
        }
        for (const auto& [name, specs] : deps) {
            p.dependencies.emplace_back(
                name, specs.empty() ? "*" : fmt::format("{}", fmt::join(specs, ",")));
        }
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace envpack
