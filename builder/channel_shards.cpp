#include "builder/channel_shards.h"

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/fs.h"
#include "core/msgpack.h"
#include "resolver/shards.h"

namespace envpack {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* k_index_file = "repodata_shards.msgpack.zst";

// A hex digest as CEP 16 stores it (raw bytes); anything else is kept as written.
json as_bytes(const json& value) {
    if (!value.is_string()) {
        return value;
    }
    const std::string& hex = value.get_ref<const std::string&>();
    if (hex.size() % 2 != 0 || hex.empty()) {
        return value;
    }
    std::vector<std::uint8_t> bytes;
    bytes.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        auto nibble = [](char c) -> int {
            if (c >= '0' && c <= '9') {
                return c - '0';
            }
            if (c >= 'a' && c <= 'f') {
                return c - 'a' + 10;
            }
            return -1;
        };
        const int hi = nibble(hex[i]);
        const int lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            return value;
        }
        bytes.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
    }
    return json::binary(std::move(bytes));
}

}  // namespace

std::size_t write_channel_shards(const fs::path& subdir_dir, const json& repodata) {
    // name -> shard document, both sections always present.
    std::map<std::string, json> shards;
    for (const char* section : {"packages", "packages.conda"}) {
        if (!repodata.contains(section)) {
            continue;
        }
        for (const auto& [fn, record] : repodata.at(section).items()) {
            json& shard = shards[record.value("name", "")];
            if (shard.is_null()) {
                shard = {{"packages", json::object()}, {"packages.conda", json::object()}};
            }
            json r = record;
            for (const char* key : {"sha256", "md5"}) {
                if (r.contains(key)) {
                    r[key] = as_bytes(r[key]);
                }
            }
            shard[section][fn] = std::move(r);
        }
    }
    const fs::path dir = subdir_dir / "shards";
    make_dirs(dir);
    ShardIndex index;
    index.subdir = repodata.at("info").value("subdir", subdir_dir.filename().string());
    index.shards_base_url = "./shards/";
    std::set<std::string> written;
    for (const auto& [name, shard] : shards) {
        MsgpackWriter w;
        write_json(w, shard);
        const std::string file = compress_shard_file(w.data());
        const std::string hex = Digest::of(file).hex();
        const std::string fn = hex + ".msgpack.zst";
        if (!fs::exists(dir / fn)) {
            // The index, written last and synced, is what makes the shards visible.
            write_file_atomic(dir / fn, file, Durability::none);
        }
        written.insert(fn);
        index.shards[name] = hex;
    }
    for (const auto& f : fs::directory_iterator(dir)) {
        const std::string fn = f.path().filename().string();
        if (fn.ends_with(".msgpack.zst") && !written.contains(fn)) {
            fs::remove(f.path());
        }
    }
    write_file_atomic(subdir_dir / k_index_file, compress_shard_file(index.to_msgpack()));
    return shards.size();
}

bool remove_channel_shards(const fs::path& subdir_dir) {
    std::error_code ec;
    if (!fs::exists(subdir_dir / k_index_file, ec)) {
        return false;
    }
    fs::remove(subdir_dir / k_index_file);
    fs::remove_all(subdir_dir / "shards", ec);
    return true;
}

}  // namespace envpack
