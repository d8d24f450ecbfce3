// Backtracking resolution of a pip requirement list, in the manner of pip's resolver (resolvelib):
// requirements are taken in order, each name is pinned to the newest release that every
// requirement on it so far accepts (pip's pre-release rule over their intersection), its
// dependencies (Requires-Dist whose markers hold in the target environment with the extras asked
// for) are queued, and a dead end undoes the latest choice and tries the next older release.
// Packages the conda solve installed are fixed: a requirement on one is satisfied when their
// version matches and is a conflict naming the conda package when it does not; their
// dependencies are conda's business. Releases come from a `Provider` (the index side), so the
// search itself is pure. The result is the pins in the order they were chosen, or an
// `Unresolvable` value that says which requirements on which name could not be met together and
// where each came from.
#pragma once

#include <cstddef>
#include <expected>
#include <map>
#include <string>
#include <vector>

#include "resolver/pep440.h"
#include "resolver/pep508.h"

namespace envpack::pip_resolve {

struct Release {
    pep440::Version version;
    std::size_t handle = 0;  // the provider's own
};

class Provider {
  public:
    virtual ~Provider() = default;
    // The usable releases of `name` (normalised), any order.
    virtual std::vector<Release> releases(const std::string& name) = 0;
    // Every Requires-Dist of a release (markers not yet evaluated).
    virtual std::vector<pep508::Requirement> requirements(const std::string& name,
                                                          const Release& release) = 0;
};

struct Options {
    pep508::Environment environment;
    pep440::PreReleases pre = pep440::PreReleases::by_specifier;
    std::map<std::string, pep440::Version> installed;  // normalised name -> conda's version
    std::size_t max_steps = 200000;                    // candidates tried before giving up
};

struct Pin {
    std::string name;  // normalised
    Release release;
    std::vector<std::string> extras;  // normalised, sorted
};

struct Unresolvable {
    std::string explanation;
};

std::expected<std::vector<Pin>, Unresolvable> resolve(
    const std::vector<pep508::Requirement>& requirements, Provider& provider,
    const Options& options);

}  // namespace envpack::pip_resolve
