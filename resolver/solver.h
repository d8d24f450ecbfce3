// Solving a conda request: which packages to install so that every requested spec, every
// dependency and every `constrains` entry holds. libsolv is the engine (behind detail/); conda's
// semantics are ours:
//
// - matching: every dependency is a MatchSpec matched by our code (libsolv namespace deps);
// - preference, per package name: fewest track_features (legacy `features` count too), then
//   highest version, then highest build number, then newest timestamp;
// - the best solution, as conda classic's objective defines it (SolutionPolicy::conda_objective,
//   the default): libsolv's answer is re-solved until no requested package, and no `python`, is
//   older than in another solution that keeps the requested packages before it; then the number of
//   tracked features is reduced, then the requested build numbers raised
//   (detail/solver_objective.h). SolutionPolicy::first_found keeps libsolv's first answer.
//   Requested names with a preferred record (a previous lock) are left where the lock has them;
// - channels: strict priority — a name is taken only from the first channel that has it
//   (ChannelPriority::disabled lets every channel compete, ranked as above);
// - a record's legacy `features: F` depends on some package with `track_features: F`, as in conda;
// - virtual packages (`__glibc`, `__cuda`, ...) describe the target image (virtual_packages.h).
//
// Results: a Solution (records in install order, dependencies first, virtual packages left out)
// or an Unsatisfiable value explaining which requested specs conflict, through which chain of
// dependencies, and what versions were available. A requested spec that no record matches at all
// throws Error (exit code 3) naming the spec and the channels searched — never an empty success.
#pragma once

#include <expected>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "resolver/match_spec.h"
#include "resolver/package_record.h"
#include "resolver/virtual_packages.h"

namespace envpack {

// One channel's records for the target: SUBDIR and noarch merged (the loader's job).
struct ChannelRecords {
    std::string name;                    // as shown to users and matched by `channel::name` specs
    std::vector<PackageRecord> records;  // record.channel should name the same channel
};

enum class ChannelPriority { strict, disabled };

// conda's `add_pip_as_python_dependency`: python 2.x/3.x records depend on pip.
enum class PipAsPythonDependency { no, yes };

// Which of several solutions a solve returns.
enum class SolutionPolicy {
    conda_objective,  // conda classic's lexicographic objective over the requested packages
    first_found,      // libsolv's answer as is (local choices, as conda's libmamba solver)
};

struct SolverOptions {
    ChannelPriority channel_priority = ChannelPriority::strict;
    PipAsPythonDependency add_pip_as_python_dependency = PipAsPythonDependency::no;
    SolutionPolicy solution_policy = SolutionPolicy::conda_objective;
};

struct SolveRequest {
    std::vector<MatchSpec> specs;
    std::vector<ChannelRecords> channels;  // priority order, first is highest
    VirtualPackages virtuals = VirtualPackages::for_platform("linux-64");
    SolverOptions options;
};

struct Solution {
    std::vector<PackageRecord> records;  // install order: dependencies before dependents
};

// A package a solve should keep where the request allows it (a version in a previous lock):
// favoured among the alternatives libsolv chooses from, never required.
struct PreferredPackage {
    std::string name;
    std::string version;
    std::string build;
};

struct Unsatisfiable {
    std::vector<std::string> conflicting_specs;  // the requested specs involved (as written)
    std::string explanation;                     // several lines, for people
};

// An index built once over channels and virtual packages, able to solve many requests. Each
// solve gives libsolv only the records of the names its specs reach through dependencies
// (conda's reduced index); the pool keeps them for later requests. The channels must outlive
// the Solver (records are referenced, not copied).
class Solver {
  public:
    Solver(std::span<const ChannelRecords> channels, const VirtualPackages& virtuals,
           SolverOptions options = {});
    ~Solver();
    Solver(const Solver&) = delete;
    Solver& operator=(const Solver&) = delete;

    std::expected<Solution, Unsatisfiable> solve(const std::vector<MatchSpec>& specs);
    // The same, favouring `preferred` records over the usual preference order where the specs
    // allow them (re-locking keeps old versions; a package no longer needed is not installed).
    std::expected<Solution, Unsatisfiable> solve(const std::vector<MatchSpec>& specs,
                                                 std::span<const PreferredPackage> preferred);

    // Number of records indexed (virtual packages included), for benchmarks and logs.
    size_t record_count() const;
    // Number of those the requests so far reached (libsolv's solvables), for logs.
    size_t reached_count() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// One-shot convenience: builds a Solver over request.channels and solves request.specs.
std::expected<Solution, Unsatisfiable> solve(const SolveRequest& request);

}  // namespace envpack
