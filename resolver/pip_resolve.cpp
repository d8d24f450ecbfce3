#include "resolver/pip_resolve.h"

#include <algorithm>
#include <deque>
#include <unordered_map>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack::pip_resolve {
namespace {

struct Demand {
    pep508::Requirement requirement;
    std::string from;  // "the pip list" or "name version"
};

struct State {
    std::vector<Pin> pins;
    std::map<std::string, size_t> pin_of;  // name -> index in pins
    std::map<std::string, std::vector<Demand>> demands;
    std::deque<Demand> todo;
};

class Search {
  public:
    Search(Provider& provider, const Options& options) : m_provider(provider), m_options(options) {}

    bool run(State& state) {
        while (!state.todo.empty()) {
            Demand d = std::move(state.todo.front());
            state.todo.pop_front();
            const std::string name = d.requirement.normalized_name();
            if (!d.requirement.url.empty()) {
                throw bad_input(fmt::format("`{}`: direct URL requirements are not resolved yet",
                                            d.requirement.to_string()));
            }
            state.demands[name].push_back(d);
            if (auto it = m_options.installed.find(name); it != m_options.installed.end()) {
                if (!d.requirement.specifier.contains(it->second, pep440::PreReleases::allow)) {
                    fail(fmt::format("{} {} is installed by conda, but {} requires {}", name,
                                     it->second.to_string(), d.from, d.requirement.to_string()));
                    return false;
                }
                continue;
            }
            if (auto it = state.pin_of.find(name); it != state.pin_of.end()) {
                Pin& pin = state.pins[it->second];
                if (!d.requirement.specifier.contains(pin.release.version,
                                                      pep440::PreReleases::allow)) {
                    fail(conflict(name, state, &pin.release.version));
                    return false;
                }
                if (add_extras(pin, d.requirement.extras)) {
                    queue_dependencies(state, pin);
                }
                continue;
            }
            return choose(state, name, d);
        }
        return true;
    }

    const std::string& last_failure() const { return m_failure; }

  private:
    bool choose(State& state, const std::string& name, const Demand& first) {
        pep440::SpecifierSet combined;
        for (const auto& d : state.demands[name]) {
            combined = combined & d.requirement.specifier;
        }
        auto& releases = releases_of(name);
        std::vector<pep440::Version> versions;
        versions.reserve(releases.size());
        for (const auto& r : releases) {
            versions.push_back(r.version);
        }
        std::vector<size_t> order = combined.filter(versions, m_options.pre);
        std::sort(order.begin(), order.end(),
                  [&](size_t a, size_t b) { return versions[a] > versions[b]; });
        if (order.empty()) {
            fail(conflict(name, state, nullptr));
            return false;
        }
        for (size_t k : order) {
            if (++m_steps > m_options.max_steps) {
                throw Error(ErrorKind::unsatisfiable,
                            fmt::format("pip requirements: gave up after trying {} candidates",
                                        m_options.max_steps),
                            "pin some versions in the pip list to narrow the search");
            }
            State next = state;
            Pin pin{name, releases[k], {}};
            add_extras(pin, first.requirement.extras);
            for (const auto& d : next.demands[name]) {
                add_extras(pin, d.requirement.extras);
            }
            next.pin_of[name] = next.pins.size();
            next.pins.push_back(pin);
            queue_dependencies(next, next.pins.back());
            if (run(next)) {
                state = std::move(next);
                return true;
            }
        }
        return false;
    }

    static bool add_extras(Pin& pin, const std::vector<std::string>& extras) {
        bool added = false;
        for (const auto& e : extras) {
            const std::string n = pep508::normalize_name(e);
            if (std::find(pin.extras.begin(), pin.extras.end(), n) == pin.extras.end()) {
                pin.extras.push_back(n);
                added = true;
            }
        }
        std::sort(pin.extras.begin(), pin.extras.end());
        return added;
    }

    void queue_dependencies(State& state, const Pin& pin) {
        const std::string from = fmt::format("{} {}", pin.name, pin.release.version.to_string());
        for (auto& r : m_provider.requirements(pin.name, pin.release)) {
            if (r.applies(m_options.environment, pin.extras)) {
                state.todo.push_back(Demand{std::move(r), from});
            }
        }
    }

    std::vector<Release>& releases_of(const std::string& name) {
        auto it = m_releases.find(name);
        if (it == m_releases.end()) {
            it = m_releases.emplace(name, m_provider.releases(name)).first;
        }
        return it->second;
    }

    std::string conflict(const std::string& name, State& state, const pep440::Version* pinned) {
        std::vector<std::string> lines;
        for (const auto& d : state.demands[name]) {
            lines.push_back(fmt::format("  {} requires {}", d.from, d.requirement.to_string()));
        }
        const auto& releases = releases_of(name);
        std::string available;
        if (releases.empty()) {
            available = "no usable release of it was found";
        } else {
            std::vector<pep440::Version> vs;
            for (const auto& r : releases) {
                vs.push_back(r.version);
            }
            std::sort(vs.begin(), vs.end());
            std::vector<std::string> texts;
            for (const auto& v : vs) {
                texts.push_back(v.to_string());
            }
            available = fmt::format("available: {}", fmt::join(texts, ", "));
        }
        return fmt::format("no version of {} satisfies every requirement on it{}:\n{}\n  ({})",
                           name,
                           pinned != nullptr ? fmt::format(" (chose {})", pinned->to_string()) : "",
                           fmt::join(lines, "\n"), available);
    }

    void fail(std::string why) { m_failure = std::move(why); }

    Provider& m_provider;
    const Options& m_options;
    std::unordered_map<std::string, std::vector<Release>> m_releases;
    std::string m_failure;
    std::size_t m_steps = 0;
};

}  // namespace

std::expected<std::vector<Pin>, Unresolvable> resolve(
    const std::vector<pep508::Requirement>& requirements, Provider& provider,
    const Options& options) {
    State state;
    for (const auto& r : requirements) {
        if (r.applies(options.environment)) {
            state.todo.push_back(Demand{r, "the pip list"});
        }
    }
    Search search(provider, options);
    if (!search.run(state)) {
        return std::unexpected(Unresolvable{search.last_failure()});
    }
    return state.pins;
}

}  // namespace envpack::pip_resolve
