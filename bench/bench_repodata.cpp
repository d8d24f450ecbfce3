// Repodata parse benchmark and generator, driven by bench/resolver.sh.
//
//   bench_repodata generate OUT.json RECORDS   a conda-forge-linux-64-shaped repodata
//   (deterministic) bench_repodata parse FILE [REPEAT]         parse FILE REPEAT times (default 3);
//   prints
//                                              records, MB, best seconds, MB/s, peak RSS and the
//                                              ratio of peak RSS to the JSON size
// Each `parse` runs in its own process so its peak RSS (getrusage) is its own.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/heap.h"
#include "core/fs.h"
#include "resolver/repodata.h"

namespace {

struct Lcg {
    std::uint64_t s = 0x9E3779B97F4A7C15ull;
    std::uint32_t next() {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::uint32_t>(s >> 33);
    }
    std::uint32_t below(std::uint32_t n) { return next() % n; }
};

std::string hex(Lcg& rng, int n) {
    static const char* k = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < n; ++i) {
        out += k[rng.below(16)];
    }
    return out;
}

// Package names `pkg-N`, plus the python stack most conda-forge records depend on. Each package
// has several versions, each with a few builds; dependencies point only at lower-numbered
// packages (so the closure is complete and acyclic) with satisfiable ranges.
int generate(const std::string& out_path, long records) {
    Lcg rng;
    envpack::AtomicFile out(out_path, envpack::Durability::none);
    out.write("{\n \"info\": {\"subdir\": \"linux-64\"},\n \"packages\": {\n");
    const long names = records / 12 + 1;
    const char* pythons[] = {"3.9", "3.10", "3.11", "3.12"};
    const char* next_pythons[] = {"3.10", "3.11", "3.12", "3.13"};
    const char* cps[] = {"cp39", "cp310", "cp311", "cp312"};
    long written = 0;
    bool conda_section = false;
    bool first_in_section = true;
    auto emit = [&](const std::string& name, const std::string& version, const std::string& build,
                    int build_number, const std::vector<std::string>& depends,
                    const std::vector<std::string>& constrains) {
        if (!conda_section && written >= records * 3 / 10) {
            out.write("\n },\n \"packages.conda\": {\n");
            conda_section = true;
            first_in_section = true;
        }
        std::string fn =
            fmt::format("{}-{}-{}{}", name, version, build, conda_section ? ".conda" : ".tar.bz2");
        std::string deps;
        for (size_t i = 0; i < depends.size(); ++i) {
            deps += fmt::format("{}\n    \"{}\"", i ? "," : "", depends[i]);
        }
        std::string cons;
        for (size_t i = 0; i < constrains.size(); ++i) {
            cons += fmt::format("{}\n    \"{}\"", i ? "," : "", constrains[i]);
        }
        out.write(
            fmt::format("{}  \"{}\": {{\n   \"build\": \"{}\",\n   \"build_number\": {},\n"
                        "   \"constrains\": [{}\n   ],\n   \"depends\": [{}\n   ],\n"
                        "   \"license\": \"BSD-3-Clause\",\n   \"license_family\": \"BSD\",\n"
                        "   \"md5\": \"{}\",\n   \"name\": \"{}\",\n   \"sha256\": \"{}\",\n"
                        "   \"size\": {},\n   \"subdir\": \"linux-64\",\n   \"timestamp\": {},\n"
                        "   \"version\": \"{}\"\n  }}",
                        first_in_section ? "" : ",\n", fn, build, build_number, cons, deps,
                        hex(rng, 32), name, hex(rng, 64), 10000 + rng.below(5000000),
                        1600000000000ll + rng.below(1u << 31), version));
        first_in_section = false;
        ++written;
    };
    // The python stack first.
    for (int p = 0; p < 4; ++p) {
        for (int micro = 0; micro < 6 && written < records; ++micro) {
            emit("python", fmt::format("{}.{}", pythons[p], micro),
                 fmt::format("h{}_0_cpython", hex(rng, 7)), 0,
                 {"libgcc-ng >=12", "libzlib >=1.2.13,<2.0.0a0", "openssl >=3.1.0,<4.0a0"}, {});
        }
        emit("python_abi", pythons[p], fmt::format("4_{}", cps[p]), 4, {},
             {fmt::format("python {}.* *_cpython", pythons[p])});
    }
    const std::pair<const char*, int> bases[] = {
        {"libgcc-ng", 12}, {"libzlib", 1}, {"openssl", 3}, {"libstdcxx-ng", 12}};
    for (const auto& [base, major] : bases) {
        for (int v = 0; v < 5; ++v) {
            emit(base, fmt::format("{}.{}.{}", major, v, major == 1 ? 13 : 0),
                 fmt::format("h{}_0", hex(rng, 7)), v, {}, {});
        }
    }
    for (long i = 0; written < records; ++i) {
        long pkg = i % names;
        int version_major = static_cast<int>(i / names);
        std::string name = fmt::format("pkg-{}", pkg);
        std::string version = fmt::format("{}.{}.{}", version_major, rng.below(20), rng.below(10));
        bool python_pkg = pkg % 3 == 0;
        int builds = python_pkg ? 4 : 1;
        for (int b = 0; b < builds && written < records; ++b) {
            std::vector<std::string> depends{"libgcc-ng >=12"};
            if (python_pkg) {
                depends.push_back(fmt::format("python >={},<{}.0a0", pythons[b], next_pythons[b]));
                depends.push_back(fmt::format("python_abi {}.* *_{}", pythons[b], cps[b]));
            }
            int ndeps = pkg > 10 ? static_cast<int>(rng.below(4)) : 0;
            for (int d = 0; d < ndeps; ++d) {
                long dep = static_cast<long>(rng.below(static_cast<std::uint32_t>(pkg)));
                depends.push_back(fmt::format("pkg-{} >=0.0", dep));
            }
            std::vector<std::string> constrains;
            if (rng.below(8) == 0) {
                constrains.push_back(
                    fmt::format("pkg-{} >=0.1", rng.below(static_cast<std::uint32_t>(names))));
            }
            std::string build = python_pkg ? fmt::format("py{}h{}_{}", cps[b] + 2, hex(rng, 7), b)
                                           : fmt::format("h{}_0", hex(rng, 7));
            emit(name, version, build, b, depends, constrains);
        }
    }
    out.write("\n },\n \"repodata_version\": 1\n}\n");
    out.commit();
    std::printf("generated %ld records, %.1f MB in %s\n", written,
                static_cast<double>(std::filesystem::file_size(out_path)) / 1e6, out_path.c_str());
    return 0;
}

int parse(const std::string& path, int repeat) {
    double size_mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
    double best = 1e9;
    double best_cpu = 1e9;
    size_t count = 0;
    unsigned shares = 1;
    auto cpu_seconds = [] {
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    };
    for (int i = 0; i < repeat; ++i) {
        double c0 = cpu_seconds();
        auto t0 = std::chrono::steady_clock::now();
        auto repodata = envpack::read_repodata_file(
            path, {"bench", "linux-64", "https://conda.anaconda.org/bench/linux-64"});
        auto t1 = std::chrono::steady_clock::now();
        best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
        best_cpu = std::min(best_cpu, cpu_seconds() - c0);
        count = repodata.records.size();
        shares = repodata.shares;
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = static_cast<double>(ru.ru_maxrss) * 1024.0 / 1e6;
    // Wall time is what a user waits; CPU time (user+sys) is less disturbed by other load.
    std::printf(
        "%-22s records %7zu  json %7.1f MB  wall %6.3f s = %5.0f MB/s  cpu %6.3f s = %5.0f MB/s"
        "  peak RSS %6.1f MB (%.2fx JSON)  threads %u\n",
        std::filesystem::path(path).parent_path().parent_path().filename().c_str(), count, size_mb,
        best, size_mb / best, best_cpu, size_mb / std::max(best_cpu, 1e-6), rss_mb,
        rss_mb / size_mb, shares);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // As envpack itself runs (ENVPACK_TUNE_HEAP=0 measures the plain heap).
    envpack::tune_heap(argv);
    try {
        std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "generate" && argc == 4) {
            return generate(argv[2], std::atol(argv[3]));
        }
        if (mode == "parse" && (argc == 3 || argc == 4)) {
            return parse(argv[2], argc == 4 ? std::atoi(argv[3]) : 3);
        }
        std::fprintf(stderr,
                     "usage: bench_repodata generate OUT.json RECORDS | parse FILE [REPEAT] \n");
        return 2;
    } catch (const envpack::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
