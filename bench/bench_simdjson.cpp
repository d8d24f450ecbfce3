// The same repodata -> PackageRecord parse written with simdjson's On-Demand API (Debian's
// libsimdjson 3.0.1), so bench/resolver.sh can compare it with resolver/repodata.cpp's scanner
// on the same files. Not used by envpack itself.
//
//   bench_simdjson FILE [REPEAT]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <simdjson.h>

#include "resolver/package_record.h"

namespace {

using namespace simdjson;

void string_list(ondemand::value v, std::vector<std::string>& out) {
    if (v.is_null()) {
        return;
    }
    for (auto item : v.get_array()) {
        out.emplace_back(std::string_view(item.get_string()));
    }
}

std::size_t parse(const padded_string& json, std::vector<envpack::PackageRecord>& records) {
    ondemand::parser parser;
    ondemand::document doc = parser.iterate(json);
    for (auto field : doc.get_object()) {
        std::string_view key = field.unescaped_key();
        if (key != "packages" && key != "packages.conda") {
            continue;
        }
        for (auto pkg : field.value().get_object()) {
            auto& r = records.emplace_back();
            r.fn = std::string_view(pkg.unescaped_key());
            for (auto f : pkg.value().get_object()) {
                std::string_view k = f.unescaped_key();
                ondemand::value v = f.value();
                if (k == "name") {
                    r.name = std::string_view(v.get_string());
                } else if (k == "version") {
                    r.version = std::string_view(v.get_string());
                } else if (k == "build") {
                    r.build = std::string_view(v.get_string());
                } else if (k == "build_number") {
                    r.build_number = v.get_int64();
                } else if (k == "depends") {
                    string_list(v, r.depends);
                } else if (k == "constrains") {
                    string_list(v, r.constrains);
                } else if (k == "md5") {
                    r.md5 = std::string_view(v.get_string());
                } else if (k == "sha256") {
                    r.sha256 = std::string_view(v.get_string());
                } else if (k == "size") {
                    r.size = v.get_uint64();
                } else if (k == "timestamp") {
                    r.timestamp = v.get_int64();
                } else if (k == "subdir") {
                    r.subdir = std::string_view(v.get_string());
                } else if (k == "license") {
                    if (!v.is_null()) {
                        r.license = std::string_view(v.get_string());
                    }
                }
            }
            r.url = "https://conda.anaconda.org/bench/linux-64/" + r.fn;
        }
    }
    return records.size();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_simdjson FILE [REPEAT]\n");
        return 2;
    }
    int repeat = argc > 2 ? std::atoi(argv[2]) : 3;
    double size_mb = static_cast<double>(std::filesystem::file_size(argv[1])) / 1e6;
    double best = 1e9;
    std::size_t count = 0;
    try {
        for (int i = 0; i < repeat; ++i) {
            auto t0 = std::chrono::steady_clock::now();
            padded_string json = padded_string::load(argv[1]);
            std::vector<envpack::PackageRecord> records;
            records.reserve(json.size() / 120 + 16);
            count = parse(json, records);
            best = std::min(
                best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
    } catch (const simdjson_error& e) {
        std::fprintf(stderr, "error: %s: %s\n", argv[1], e.what());
        return 1;
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = static_cast<double>(ru.ru_maxrss) * 1024.0 / 1e6;
    std::printf(
        "%-22s records %7zu  json %7.1f MB  wall %6.3f s = %5.0f MB/s  (simdjson on-demand)"
        "  peak RSS %6.1f MB (%.2fx JSON)\n",
        std::filesystem::path(argv[1]).parent_path().parent_path().filename().c_str(), count,
        size_mb, best, size_mb / best, rss_mb, rss_mb / size_mb);
    return 0;
}
