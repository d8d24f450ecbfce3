#include "builder/channel_index.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/channel_shards.h"
#include "builder/conda_package.h"
#include "builder/package_cache.h"
#include "core/error.h"
#include "core/fs.h"

namespace envpack {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<IndexResult> index_channel(const fs::path& channel_dir, Log& log, IndexShards shards) {
    if (!fs::is_directory(channel_dir)) {
        throw bad_input(fmt::format("index `{}`: not a directory", channel_dir.string()),
                        "give the channel's root directory (holding linux-64/, noarch/, ...)");
    }
    std::vector<fs::path> subdirs;
    for (const auto& d : fs::directory_iterator(channel_dir)) {
        if (!d.is_directory()) {
            continue;
        }
        for (const auto& f : fs::directory_iterator(d.path())) {
            if (f.is_regular_file() && package_format(f.path().filename().string())) {
                subdirs.push_back(d.path());
                break;
            }
        }
    }
    if (std::find(subdirs.begin(), subdirs.end(), channel_dir / "noarch") == subdirs.end()) {
        make_dirs(channel_dir / "noarch");
        subdirs.push_back(channel_dir / "noarch");
    }
    std::sort(subdirs.begin(), subdirs.end());
    std::vector<IndexResult> results;
    for (const auto& dir : subdirs) {
        const std::string subdir = dir.filename().string();
        json packages = json::object();
        json packages_conda = json::object();
        std::size_t count = 0;
        for (const auto& f : fs::directory_iterator(dir)) {
            const std::string fn = f.path().filename().string();
            auto format = package_format(fn);
            if (!f.is_regular_file() || !format) {
                continue;
            }
            json record;
            try {
                record = json::parse(read_package_info_file(f.path(), "info/index.json"));
            } catch (const json::exception& e) {
                throw bad_input(fmt::format("index `{}`: info/index.json is not valid JSON: {}",
                                            f.path().string(), e.what()));
            }
            if (record.value("subdir", subdir) != subdir) {
                log.warnf("index: `{}` says subdir `{}` but sits in `{}`", fn,
                          record.value("subdir", ""), subdir);
            }
            record["md5"] = file_md5_hex(f.path());
            record["sha256"] = file_sha256_hex(f.path());
            record["size"] = fs::file_size(f.path());
            (*format == PackageFormat::conda ? packages_conda : packages)[fn] = std::move(record);
            ++count;
        }
        json repodata{{"info", {{"subdir", subdir}}},
                      {"packages", packages},
                      {"packages.conda", packages_conda},
                      {"repodata_version", 1}};
        write_file_atomic(dir / "repodata.json", repodata.dump(1) + "\n");
        std::size_t shard_count = 0;
        if (shards == IndexShards::yes) {
            shard_count = write_channel_shards(dir, repodata);
        } else if (remove_channel_shards(dir)) {
            log.infof("index: removed the shard index of `{}` (index with --shards to keep one)",
                      subdir);
        }
        results.push_back({subdir, count, shard_count});
    }
    return results;
}

}  // namespace envpack
