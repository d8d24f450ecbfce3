// `envpack index`: repodata.json for a local channel, made from its package files, like
// `conda index`. Each subdirectory of the channel that holds `.tar.bz2` or `.conda` files (and
// always `noarch/`) gets a `repodata.json` with `info.subdir`, `packages` (.tar.bz2),
// `packages.conda` and `repodata_version: 1`; each record is the package's `info/index.json` plus
// `md5`, `sha256` and `size` of the file. The output is deterministic (keys sorted).
// With `IndexShards::yes` each subdir also gets CEP 16 sharded repodata (builder/channel_shards.h);
// without it, a shard index left by an earlier `--shards` run is removed (it would be read
// instead of the new repodata.json).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/log.h"

namespace envpack {

struct IndexResult {
    std::string subdir;
    std::size_t packages = 0;
    std::size_t shards = 0;  // package names sharded (IndexShards::yes)
};

enum class IndexShards { no, yes };

// Throws a bad-input Error if `channel_dir` is not a directory or a package is unreadable
// (naming the file).
std::vector<IndexResult> index_channel(const std::filesystem::path& channel_dir, Log& log,
                                       IndexShards shards = IndexShards::no);

}  // namespace envpack
