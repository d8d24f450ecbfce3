// Reads one repodata record (the object after a package file name) into a PackageRecord: the
// fields PackageRecord holds, everything else skipped. Private to resolver/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "resolver/detail/json_scanner.h"
#include "resolver/package_record.h"

namespace envpack::detail {

// `s` is at the record's `{`. `fn` names the record in errors. Throws Error (through the
// scanner) on a wrong type or a missing name/version; seconds timestamps become milliseconds.
void read_record(JsonScanner& s, PackageRecord& r, std::string_view fn);

// `track_features` / `features` given as one string: the names separated by spaces or commas,
// appended to `out` (repodata.json and CEP 16 shards alike).
void split_feature_text(std::string_view text, std::vector<std::string>& out);

}  // namespace envpack::detail
