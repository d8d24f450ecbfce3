// One package in a channel's repodata, as conda describes it. Plain data; parsing lives in
// repodata.h, matching in match_spec.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace envpack {

struct PackageRecord {
    std::string name;
    std::string version;  // as written; parse with Version::parse
    std::string build;    // build string
    std::int64_t build_number = 0;
    std::vector<std::string> depends;     // match specs ("null" in repodata reads as empty)
    std::vector<std::string> constrains;  // match specs
    std::vector<std::string> track_features;
    std::vector<std::string> features;  // legacy
    std::string subdir;                 // "linux-64", "noarch"
    std::string noarch;                 // "", "python", "generic"
    std::string license;
    std::string md5;
    std::string sha256;
    std::uint64_t size = 0;
    std::int64_t timestamp = 0;  // milliseconds since the epoch (seconds are normalised)
    std::string fn;              // file name: "numpy-1.26.4-py312h..._0.conda"
    std::string channel;         // canonical channel URL or name the record came from
    std::string url;             // full download URL
};

}  // namespace envpack
