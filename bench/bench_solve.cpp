// Solve-time benchmark entry point, for bench/*.sh:
//
//   bench_solve [--platform P] [--repeat N] [--virtual NAME=VERSION]... [--first-found]
//               REPODATA... -- SPEC...
//
// --first-found keeps libsolv's first answer (SolutionPolicy::first_found): the difference to the
// default is the cost of conda's objective pass.
//
// Each REPODATA is a channel directory (its PLATFORM/ and noarch/ repodata.json are merged) or one
// repodata file (.json, .json.zst, .json.bz2); they are channels in priority order. Prints, one
// `key: value` per line: records, load seconds (parse), pool seconds (Solver construction: index
// by name and preference ranks), first solve seconds (libsolv solvables made for the names the
// request reaches, namespace callbacks not yet cached), best solve seconds over N runs on the
// same pool, each with its CPU seconds (user + sys, steadier on a shared machine), packages in
// the solution, and `unsatisfiable` with the explanation when it is.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/heap.h"
#include "resolver/repodata.h"
#include "resolver/solver.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU seconds of this process (user + sys): steadier than wall time on a shared machine.
double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

envpack::ChannelRecords load(const std::filesystem::path& path, const std::string& platform) {
    envpack::ChannelRecords ch;
    ch.name = path.filename().string();
    std::vector<std::pair<std::filesystem::path, std::string>> files;
    if (std::filesystem::is_directory(path)) {
        for (const std::string& subdir : {platform, std::string("noarch")}) {
            auto file = path / subdir / "repodata.json";
            if (std::filesystem::exists(file)) {
                files.emplace_back(file, subdir);
            }
        }
    } else {
        files.emplace_back(path, platform);
    }
    for (const auto& [file, subdir] : files) {
        envpack::RepodataOrigin origin{ch.name, subdir, "file://" + file.parent_path().string()};
        auto rd = envpack::read_repodata_file(file, origin);
        if (ch.records.empty()) {
            ch.records = std::move(rd.records);  // as `envpack lock` does: no second array
            continue;
        }
        ch.records.reserve(ch.records.size() + rd.records.size());
        for (auto& r : rd.records) {
            ch.records.push_back(std::move(r));
        }
    }
    return ch;
}

int run(int argc, char** argv) {
    std::string platform = "linux-64";
    int repeat = 5;
    std::vector<std::string> overrides;
    std::vector<std::filesystem::path> sources;
    std::vector<envpack::MatchSpec> specs;
    bool in_specs = false;
    envpack::SolverOptions options;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (in_specs) {
            specs.push_back(envpack::MatchSpec::parse(a));
        } else if (a == "--") {
            in_specs = true;
        } else if (a == "--platform" && i + 1 < argc) {
            platform = argv[++i];
        } else if (a == "--repeat" && i + 1 < argc) {
            repeat = std::max(1, std::stoi(argv[++i]));
        } else if (a == "--virtual" && i + 1 < argc) {
            overrides.push_back(argv[++i]);
        } else if (a == "--first-found") {
            options.solution_policy = envpack::SolutionPolicy::first_found;
        } else {
            sources.emplace_back(a);
        }
    }
    if (sources.empty() || specs.empty()) {
        std::fprintf(stderr,
                     "usage: bench_solve [--platform P] [--repeat N] [--virtual NAME=VERSION]... "
                     "REPODATA... -- SPEC...\n");
        return 2;
    }
    auto t0 = std::chrono::steady_clock::now();
    std::vector<envpack::ChannelRecords> channels;
    size_t records = 0;
    for (const auto& s : sources) {
        channels.push_back(load(s, platform));
        records += channels.back().records.size();
    }
    double load_s = seconds_since(t0);
    auto virtuals = envpack::VirtualPackages::for_platform(platform);
    for (const auto& o : overrides) {
        virtuals.apply_override(o);
    }
    t0 = std::chrono::steady_clock::now();
    double c0 = cpu_now();
    envpack::Solver solver(channels, virtuals, options);
    double pool_s = seconds_since(t0);
    double pool_cpu = cpu_now() - c0;
    double first_s = 0;
    double first_cpu = 0;
    double best_s = 1e9;
    double best_cpu = 1e9;
    size_t packages = 0;
    for (int r = 0; r < repeat; ++r) {
        t0 = std::chrono::steady_clock::now();
        c0 = cpu_now();
        auto result = solver.solve(specs);
        double s = seconds_since(t0);
        double c = cpu_now() - c0;
        if (r == 0) {
            first_s = s;
            first_cpu = c;
        }
        best_s = std::min(best_s, s);
        best_cpu = std::min(best_cpu, c);
        if (!result) {
            std::printf("unsatisfiable: yes\n%s", result.error().explanation.c_str());
            return 3;
        }
        packages = result->records.size();
    }
    std::printf(
        "records: %zu\nload_s: %.3f\npool_s: %.3f (cpu %.3f)\nfirst_solve_s: %.4f (cpu %.4f)\n"
        "best_solve_s: %.4f (cpu %.4f)\npackages: %zu\n",
        records, load_s, pool_s, pool_cpu, first_s, first_cpu, best_s, best_cpu, packages);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // As envpack itself runs (ENVPACK_TUNE_HEAP=0 measures the plain heap).
    envpack::tune_heap(argv, envpack::HeapUse::large);
    try {
        return run(argc, argv);
    } catch (const envpack::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        if (!e.hint().empty()) {
            std::fprintf(stderr, "hint: %s\n", e.hint().c_str());
        }
        return static_cast<int>(e.code());
    }
}
