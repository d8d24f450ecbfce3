// The core metadata of a wheel (`*.dist-info/METADATA`, or the PEP 658 `.metadata` file beside it
// on an index) and its `WHEEL` file: RFC 822-style headers, read as pip reads them.
//
// `parse_headers` splits `Key: value` lines up to the first blank line (the body after it is
// not read); a line that starts with whitespace continues the previous value (joined with
// "\n"); keys compare case-insensitively and may repeat. `CoreMetadata::parse` needs
// `Metadata-Version`, `Name` and a PEP 440 `Version`, and parses every `Requires-Dist` as a PEP
// 508 requirement: anything else wrong is a bad-input Error naming `source` and the line.
// `WheelInfo::parse` needs `Wheel-Version` (major version 1, as pip requires) and reads
// `Root-Is-Purelib` (`true` in any case, else false).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "resolver/pep440.h"
#include "resolver/pep508.h"

namespace envpack::pip_metadata {

struct Header {
    std::string key;  // as written
    std::string value;
    int line = 0;  // 1-based line of the key
};

std::vector<Header> parse_headers(std::string_view text, std::string_view source);

struct CoreMetadata {
    std::string metadata_version;
    std::string name;
    pep440::Version version;
    std::string requires_python;  // "" when absent
    std::vector<pep508::Requirement> requires_dist;
    std::vector<std::string> provides_extra;

    static CoreMetadata parse(std::string_view text, std::string_view source);
    // The requirements that apply in `env` when the package is installed with `extras`.
    std::vector<pep508::Requirement> dependencies(const pep508::Environment& env,
                                                  const std::vector<std::string>& extras) const;
};

struct WheelInfo {
    std::string wheel_version;
    bool root_is_purelib = false;
    std::vector<std::string> tags;

    static WheelInfo parse(std::string_view text, std::string_view source);
};

}  // namespace envpack::pip_metadata
