// `envpack index --shards`: CEP 16 sharded repodata for a local channel subdir, written next to
// its repodata.json from the same records.
//
// `SUBDIR/repodata_shards.msgpack.zst` = {info: {base_url: "", shards_base_url: "./shards/",
// subdir}, shards: {name: sha256 bin}, version: 1}; `SUBDIR/shards/<sha256>.msgpack.zst` = one
// per package name, {packages: {fn: record}, packages.conda: {fn: record}}, each record as in
// repodata.json with `sha256` and `md5` as raw bytes. The sha256 is that of the compressed file.
// Deterministic: the same repodata gives the same bytes. Shard files of earlier runs that the new
// index does not name are removed.
#pragma once

#include <filesystem>

#include <nlohmann/json_fwd.hpp>

namespace envpack {

// Writes the shards of `repodata` (the repodata.json document) into `subdir_dir`. Returns the
// number of shards.
std::size_t write_channel_shards(const std::filesystem::path& subdir_dir,
                                 const nlohmann::json& repodata);

// Removes a shard index and shards/ an earlier `index --shards` left in `subdir_dir` (a shard
// index that no longer matches repodata.json would be read instead of it). Returns whether
// there was one.
bool remove_channel_shards(const std::filesystem::path& subdir_dir);

}  // namespace envpack
