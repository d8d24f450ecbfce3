// Repodata parse benchmark and generator, driven by bench/resolver.sh.
//
//   bench_repodata generate OUT.json RECORDS [SHAPE]   a deterministic repodata; SHAPE is
//       conda-forge (default): heavy-tailed versions per name, dependencies concentrated on hub
//           packages and stable across a package's versions, pinned to a window of versions
//           (run_exports style) that moves with the release era;
//       uniform: every record picks 0-3 random lower-numbered packages, any version (a stress
//           shape: the closure of a late package covers most of the repodata);
//       the last line printed names the deepest package (`deepest: pkg-N`) for solve benches
//   bench_repodata parse FILE [REPEAT]   parse FILE REPEAT times (default 3); prints records, MB,
//       best seconds, MB/s, peak RSS and the ratio of peak RSS to the JSON size
//   bench_repodata shard SUBDIR_DIR   CEP 16 shards of SUBDIR_DIR/repodata.json (as `envpack index
//       --shards` writes them), for the cold-shards lock
// Each `parse` runs in its own process so its peak RSS (getrusage) is its own.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/channel_shards.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/heap.h"
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

// Writes records into `packages` (the first 30%) and `packages.conda` (the rest).
class RepodataWriter {
  public:
    RepodataWriter(const std::string& path, long records)
        : m_out(path, envpack::Durability::none), m_records(records) {
        m_out.write("{\n \"info\": {\"subdir\": \"linux-64\"},\n \"packages\": {\n");
    }
    long written() const { return m_written; }
    bool full() const { return m_written >= m_records; }
    void emit(Lcg& rng, const std::string& name, const std::string& version,
              const std::string& build, int build_number, const std::vector<std::string>& depends,
              const std::vector<std::string>& constrains) {
        if (!m_conda_section && m_written >= m_records * 3 / 10) {
            m_out.write("\n },\n \"packages.conda\": {\n");
            m_conda_section = true;
            m_first = true;
        }
        std::string fn = fmt::format("{}-{}-{}{}", name, version, build,
                                     m_conda_section ? ".conda" : ".tar.bz2");
        auto list = [](const std::vector<std::string>& items) {
            std::string out;
            for (size_t i = 0; i < items.size(); ++i) {
                out += fmt::format("{}\n    \"{}\"", i ? "," : "", items[i]);
            }
            return out;
        };
        m_out.write(
            fmt::format("{}  \"{}\": {{\n   \"build\": \"{}\",\n   \"build_number\": {},\n"
                        "   \"constrains\": [{}\n   ],\n   \"depends\": [{}\n   ],\n"
                        "   \"license\": \"BSD-3-Clause\",\n   \"license_family\": \"BSD\",\n"
                        "   \"md5\": \"{}\",\n   \"name\": \"{}\",\n   \"sha256\": \"{}\",\n"
                        "   \"size\": {},\n   \"subdir\": \"linux-64\",\n   \"timestamp\": {},\n"
                        "   \"version\": \"{}\"\n  }}",
                        m_first ? "" : ",\n", fn, build, build_number, list(constrains),
                        list(depends), hex(rng, 32), name, hex(rng, 64), 10000 + rng.below(5000000),
                        1600000000000ll + rng.below(1u << 31), version));
        m_first = false;
        ++m_written;
    }
    void commit() {
        m_out.write("\n },\n \"repodata_version\": 1\n}\n");
        m_out.commit();
    }

  private:
    envpack::AtomicFile m_out;
    long m_records;
    long m_written = 0;
    bool m_conda_section = false;
    bool m_first = true;
};

const char* const k_pythons[] = {"3.9", "3.10", "3.11", "3.12"};
const char* const k_next_pythons[] = {"3.10", "3.11", "3.12", "3.13"};
const char* const k_cps[] = {"cp39", "cp310", "cp311", "cp312"};

// The python stack and the C runtime that most conda-forge records depend on.
void emit_base_stack(RepodataWriter& w, Lcg& rng) {
    for (int p = 0; p < 4; ++p) {
        for (int micro = 0; micro < 6 && !w.full(); ++micro) {
            w.emit(rng, "python", fmt::format("{}.{}", k_pythons[p], micro),
                   fmt::format("h{}_0_cpython", hex(rng, 7)), 0,
                   {"libgcc-ng >=12", "libzlib >=1.2.13,<2.0.0a0", "openssl >=3.1.0,<4.0a0"}, {});
        }
        w.emit(rng, "python_abi", k_pythons[p], fmt::format("4_{}", k_cps[p]), 4, {},
               {fmt::format("python {}.* *_cpython", k_pythons[p])});
    }
    const std::pair<const char*, int> bases[] = {
        {"libgcc-ng", 12}, {"libzlib", 1}, {"openssl", 3}, {"libstdcxx-ng", 12}};
    for (const auto& [base, major] : bases) {
        for (int v = 0; v < 5; ++v) {
            w.emit(rng, base, fmt::format("{}.{}.{}", major, v, major == 1 ? 13 : 0),
                   fmt::format("h{}_0", hex(rng, 7)), v, {}, {});
        }
    }
}

// conda-forge's shape. Package k has versions 0.0.0, 0.1.0, ... (index j -> `j/10 . j%10 . 0`),
// spread over the same release eras as everything else; a record of era f (0 = oldest, 1 =
// newest) pins each dependency to the versions of that dependency from about the same era, so
// the newest records of everything fit together and older ones pull in older windows.
int generate_conda_forge(const std::string& out_path, long records) {
    Lcg rng;
    RepodataWriter w(out_path, records);
    emit_base_stack(w, rng);
    struct Package {
        int versions;
        bool python;
        std::vector<long> deps;
    };
    std::vector<Package> packages;
    constexpr long k_hubs = 200;  // numpy, libblas, libprotobuf, ... : most edges end here
    auto version_of = [](int j) { return fmt::format("{}.{}.0", j / 10, j % 10); };
    long deepest = 0;
    std::size_t deepest_deps = 0;
    while (!w.full()) {
        long k = static_cast<long>(packages.size());
        Package p;
        p.python = k % 3 == 0;
        // Heavy-tailed: hubs have 40-240 versions, the rest mostly a handful (mean ~8).
        p.versions = k < k_hubs ? 40 + static_cast<int>(rng.below(200))
                                : 1 + static_cast<int>(rng.below(8)) +
                                      (rng.below(10) == 0 ? static_cast<int>(rng.below(60)) : 0);
        if (p.python) {
            p.versions = std::max(1, p.versions / 4);  // four builds (pythons) per version
        }
        int ndeps = k < 10 ? 0 : static_cast<int>(rng.below(7));
        for (int d = 0; d < ndeps; ++d) {
            long dep =
                rng.below(10) < 6
                    ? static_cast<long>(rng.below(static_cast<std::uint32_t>(std::min(k, k_hubs))))
                    : static_cast<long>(static_cast<double>(k) *
                                        std::pow(rng.below(1000000) / 1e6, 3));
            if (std::find(p.deps.begin(), p.deps.end(), dep) == p.deps.end()) {
                p.deps.push_back(dep);
            }
        }
        for (int j = 0; j < p.versions && !w.full(); ++j) {
            double era = p.versions == 1 ? 1.0 : static_cast<double>(j) / (p.versions - 1);
            std::vector<std::string> depends{"libgcc-ng >=12"};
            for (long dep : p.deps) {
                // The dependency's versions from this era: a window of about a fifth of them.
                int n = packages[static_cast<size_t>(dep)].versions;
                int hi = static_cast<int>(era * (n - 1) + 0.5);
                int lo = std::max(0, hi - std::max(1, n / 5) + 1);
                depends.push_back(hi + 1 < n ? fmt::format("pkg-{} >={},<{}", dep, version_of(lo),
                                                           version_of(hi + 1))
                                             : fmt::format("pkg-{} >={}", dep, version_of(lo)));
            }
            std::vector<std::string> constrains;
            if (rng.below(8) == 0 && k > 0) {
                constrains.push_back(
                    fmt::format("pkg-{} >=0.1", rng.below(static_cast<std::uint32_t>(k))));
            }
            int builds = p.python ? 4 : 1;
            for (int b = 0; b < builds && !w.full(); ++b) {
                std::vector<std::string> d = depends;
                std::string build = fmt::format("h{}_0", hex(rng, 7));
                if (p.python) {
                    d.push_back(
                        fmt::format("python >={},<{}.0a0", k_pythons[b], k_next_pythons[b]));
                    d.push_back(fmt::format("python_abi {}.* *_{}", k_pythons[b], k_cps[b]));
                    build = fmt::format("py{}h{}_{}", k_cps[b] + 2, hex(rng, 7), b);
                }
                w.emit(rng, fmt::format("pkg-{}", k), version_of(j), build, b, d, constrains);
            }
        }
        if (p.deps.size() >= deepest_deps && k >= k_hubs) {
            deepest = k;
            deepest_deps = p.deps.size();
        }
        packages.push_back(std::move(p));
    }
    w.commit();
    std::printf("generated %ld records of %zu packages (conda-forge shape), %.1f MB in %s\n",
                w.written(), packages.size(),
                static_cast<double>(std::filesystem::file_size(out_path)) / 1e6, out_path.c_str());
    std::printf("deepest: pkg-%ld\n", deepest);
    return 0;
}

// Package names `pkg-N`, plus the python stack most conda-forge records depend on. Each package
// has several versions, each with a few builds; dependencies point only at lower-numbered
// packages (so the closure is complete and acyclic) with satisfiable ranges.
int generate_uniform(const std::string& out_path, long records) {
    Lcg rng;
    RepodataWriter w(out_path, records);
    emit_base_stack(w, rng);
    const long names = records / 12 + 1;
    for (long i = 0; !w.full(); ++i) {
        long pkg = i % names;
        int version_major = static_cast<int>(i / names);
        std::string name = fmt::format("pkg-{}", pkg);
        std::string version = fmt::format("{}.{}.{}", version_major, rng.below(20), rng.below(10));
        bool python_pkg = pkg % 3 == 0;
        int builds = python_pkg ? 4 : 1;
        for (int b = 0; b < builds && !w.full(); ++b) {
            std::vector<std::string> depends{"libgcc-ng >=12"};
            if (python_pkg) {
                depends.push_back(
                    fmt::format("python >={},<{}.0a0", k_pythons[b], k_next_pythons[b]));
                depends.push_back(fmt::format("python_abi {}.* *_{}", k_pythons[b], k_cps[b]));
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
            std::string build = python_pkg ? fmt::format("py{}h{}_{}", k_cps[b] + 2, hex(rng, 7), b)
                                           : fmt::format("h{}_0", hex(rng, 7));
            w.emit(rng, name, version, build, b, depends, constrains);
        }
    }
    w.commit();
    std::printf("generated %ld records (uniform shape), %.1f MB in %s\n", w.written(),
                static_cast<double>(std::filesystem::file_size(out_path)) / 1e6, out_path.c_str());
    std::printf("deepest: pkg-%ld\n", records / 12 - 1);  // the last with all its versions
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
    envpack::tune_heap(argv, envpack::HeapUse::large);
    try {
        std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "generate" && (argc == 4 || argc == 5)) {
            std::string shape = argc == 5 ? argv[4] : "conda-forge";
            if (shape == "uniform") {
                return generate_uniform(argv[2], std::atol(argv[3]));
            }
            if (shape == "conda-forge") {
                return generate_conda_forge(argv[2], std::atol(argv[3]));
            }
        }
        if (mode == "shard" && argc == 3) {
            // CEP 16 shards of SUBDIR_DIR/repodata.json, with `envpack index --shards`'s writer.
            const std::filesystem::path dir = argv[2];
            const auto t0 = std::chrono::steady_clock::now();
            const std::size_t n = envpack::write_channel_shards(
                dir, nlohmann::json::parse(envpack::read_file(dir / "repodata.json")));
            std::printf(
                "sharded %s: %zu shards in %.1f s\n", dir.c_str(), n,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            return 0;
        }
        if (mode == "parse" && (argc == 3 || argc == 4)) {
            return parse(argv[2], argc == 4 ? std::atoi(argv[3]) : 3);
        }
        std::fprintf(
            stderr,
            "usage: bench_repodata generate OUT.json RECORDS [conda-forge|uniform] | parse FILE "
            "[REPEAT] | shard SUBDIR_DIR\n");
        return 2;
    } catch (const envpack::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
