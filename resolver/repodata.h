// A channel subdirectory's repodata (`repodata.json`, `.json.zst`, `.json.bz2`) read into
// PackageRecords.
//
// The parser is a hand-written single-pass scanner over the bytes (no DOM, no index): it copies
// only the fields PackageRecord holds and skips everything else (`signatures`, `removed`, unknown
// keys). It reads both `packages` (.tar.bz2) and `packages.conda` and, when the same
// name-version-build appears in both, keeps only the `.conda` one. `"depends": null` and
// `"constrains": null` read as empty; a missing `info` key is fine; `track_features` may be a
// string ("a b" or "a,b") or a list; second timestamps are normalised to milliseconds.
//
// On malformed input (truncated, wrong types, bad escapes) it throws Error naming the source and
// the line:column and byte offset where reading stopped; it never crashes or returns partial data.
// Plain `.json` files are memory-mapped and the pages already consumed are handed back as the scan
// advances, so peak memory is about the size of the records, not of the JSON.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/package_record.h"

namespace envpack {

// Where repodata came from, to fill each record's `channel`, `subdir` and `url`.
struct RepodataOrigin {
    std::string channel;   // canonical channel name or URL, copied to PackageRecord::channel
    std::string subdir;    // "linux-64" | "noarch" | ...; used when a record has no `subdir`
    std::string base_url;  // ".../CHANNEL/SUBDIR"; url = base_url + "/" + fn (a record's own `url`
                           // is kept only when base_url is empty)
};

struct Repodata {
    std::string subdir;                  // info.subdir if present, else the origin's
    std::vector<PackageRecord> records;  // in file order, `.conda` duplicates of .tar.bz2 resolved
    std::size_t replaced_tar_bz2 = 0;    // .tar.bz2 records dropped for a `.conda` twin
    unsigned shares = 1;  // parts read in parallel whose records were kept (diagnostics)
};

// Large documents are read by several threads, each from a record key near an equal share of
// the bytes to the first record key of the next share. Where a share starts is found by a text
// search, so it is only a guess (the text could sit inside a string); a share's records are kept
// only when the reader before it stops at exactly that key, and otherwise that reader goes on
// alone. The result and any error are the same as one thread's.
struct RepodataParseOptions {
    unsigned threads = 0;  // 0: default_thread_count() (ENVPACK_THREADS), at most 16
    std::size_t min_share_bytes = 8u << 20;  // below this per thread, fewer threads
    // What errors name in read_repodata_file (default: the path), e.g. the URL a cached copy
    // came from.
    std::string source;
};

// Parses repodata JSON. `source` names the file or URL in errors. Throws Error (exit code 1).
Repodata parse_repodata(std::string_view json, std::string_view source,
                        const RepodataOrigin& origin, const RepodataParseOptions& options = {});

// Reads `path`: `*.json.zst` (zstd), `*.json.bz2` (bzip2) or plain JSON (memory-mapped).
// Throws Error naming the path when it cannot be read, decompressed or parsed.
Repodata read_repodata_file(const std::filesystem::path& path, const RepodataOrigin& origin,
                            const RepodataParseOptions& options = {});

enum class RepodataEncoding { json, zstd, bzip2 };

// By file name suffix: ".zst" -> zstd, ".bz2" -> bzip2, anything else plain JSON.
RepodataEncoding repodata_encoding(std::string_view file_name);

// Decompresses zstd or bzip2 repodata in memory (`json` is returned as is). Throws Error naming
// `source` on corrupt or truncated data.
std::string decode_repodata(std::string data, RepodataEncoding encoding, std::string_view source);

}  // namespace envpack
