// CEP 16 sharded repodata, as values: the shard index (`SUBDIR/repodata_shards.msgpack.zst`) and
// the shards it names (`<shards_base_url><sha256 hex>.msgpack.zst`, one per package name), read
// from and written to msgpack. Pure: fetching and caching live in shard_fetch.h.
//
// Reading accepts what conda's, rattler's and conda-index's writers produce: hashes as msgpack
// `bin` (32 / 16 raw bytes, as CEP 16 says) or as hex strings (conda's test channel stores the
// records' sha256/md5 that way); `version` or `repodata_version` in the index; `removed` and
// unknown keys ignored; a record's fields read as repodata.json's are (null lists empty, string or
// list `track_features`, boolean `noarch`, second timestamps made milliseconds). A shard's records
// come out as `read_repodata_file` gives them for that name: `packages` then `packages.conda`, a
// `.tar.bz2` dropped when the same package is listed as `.conda`, `channel`, `url` and an empty
// `subdir` filled from the origin. Malformed input throws Error (kind protocol, exit 1) naming
// the source.
//
// Shards are written by `envpack index --shards` (builder/channel_shards.h) through
// core/msgpack.h's `write_json`; the index by `ShardIndex::to_msgpack`. Both are deterministic:
// maps in sorted key order, hashes as `bin`, the smallest msgpack encodings, zstd level 3 in one
// frame.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/package_record.h"
#include "resolver/repodata.h"

namespace envpack {

struct ShardIndex {
    std::string subdir;           // info.subdir ("" when absent)
    std::string base_url;         // info.base_url as written; "" means the subdir URL
    std::string shards_base_url;  // info.shards_base_url as written; "" means the subdir URL
    std::map<std::string, std::string, std::less<>> shards;  // name -> sha256, lowercase hex

    // `msgpack` is the decompressed index. Throws Error (protocol) naming `source`.
    static ShardIndex parse(std::string_view msgpack, std::string_view source);
    // The msgpack document (uncompressed) with `version: 1`.
    std::string to_msgpack() const;
};

// The records of one shard (decompressed msgpack) in repodata.json order, see above.
std::vector<PackageRecord> parse_shard(std::string_view msgpack, std::string_view source,
                                       const RepodataOrigin& origin);

// `base` (a subdir URL, no trailing slash) joined with a CEP 16 relative or absolute URL (`""`,
// `./shards/`, `../x/`, `https://...`): the result ends in `/` unless `relative` is absolute and
// does not.
std::string join_shard_url(std::string_view base, std::string_view relative);

// zstd (level 3, one frame with its content size) for shard files and the index.
std::string compress_shard_file(std::string_view data);
// The inverse; throws Error naming `source` on damaged data.
std::string decompress_shard_file(std::string_view data, std::string_view source);

}  // namespace envpack
