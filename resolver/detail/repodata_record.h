// Reads one repodata record (the object after a package file name) into a PackageRecord: the
// fields PackageRecord holds, everything else skipped. Private to resolver/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/detail/json_scanner.h"
#include "resolver/package_record.h"

namespace envpack::detail {

// `s` is at the record's `{`. `fn` names the record in errors. Throws Error (through the
// scanner) on a wrong type or a missing name/version; seconds timestamps become milliseconds.
void read_record(JsonScanner& s, PackageRecord& r, std::string_view fn);

// conda's rule: a positive timestamp up to year 9999 counted in seconds becomes milliseconds;
// anything else is returned as it is (already milliseconds, or 0 for none).
std::int64_t timestamp_ms(std::int64_t timestamp);

// When the same package is listed as `.tar.bz2` and as `.conda`, keeps only the `.conda`: drops
// those `.tar.bz2` records in place, the others keeping their order. Returns how many it dropped.
std::size_t drop_tar_bz2_twins(std::vector<PackageRecord>& records);

// `track_features` / `features` given as one string: the names separated by spaces or commas,
// appended to `out` (repodata.json and CEP 16 shards alike).
void split_feature_text(std::string_view text, std::vector<std::string>& out);

}  // namespace envpack::detail
