#include "resolver/shards.h"

#include <algorithm>

#include <fmt/format.h>
#include <zstd.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/msgpack.h"
#include "resolver/detail/repodata_record.h"

namespace envpack {
namespace {

void read_string(MsgpackReader& r, std::string& out) {
    if (r.peek() == MsgpackType::nil) {
        r.read_nil();
        out.clear();
        return;
    }
    out.assign(r.read_str());
}

// sha256 / md5: raw bytes (CEP 16) or a hex string (conda's test channel).
void read_hash(MsgpackReader& r, std::string& out) {
    switch (r.peek()) {
        case MsgpackType::bin: {
            std::string_view b = r.read_bin();
            out = to_hex(reinterpret_cast<const unsigned char*>(b.data()), b.size());
            return;
        }
        case MsgpackType::nil:
            r.read_nil();
            out.clear();
            return;
        default:
            out.assign(r.read_str());
    }
}

void read_string_list(MsgpackReader& r, std::vector<std::string>& out) {
    if (r.peek() == MsgpackType::nil) {
        r.read_nil();
        return;
    }
    const std::size_t n = r.read_array_header();
    out.reserve(out.size() + n);
    for (std::size_t i = 0; i < n; ++i) {
        out.emplace_back(r.read_str());
    }
}

// track_features / features: "a b", "a,b", a list, or nil.
void read_feature_list(MsgpackReader& r, std::vector<std::string>& out) {
    if (r.peek() != MsgpackType::str) {
        read_string_list(r, out);
        return;
    }
    detail::split_feature_text(r.read_str(), out);
}

std::int64_t read_int(MsgpackReader& r) {
    if (r.peek() == MsgpackType::nil) {
        r.read_nil();
        return 0;
    }
    return r.read_int();
}

void read_record(MsgpackReader& r, PackageRecord& rec, std::string_view fn) {
    if (r.peek() != MsgpackType::map) {
        r.fail(fmt::format("package `{}` is not a map", fn));
    }
    const std::size_t n = r.read_map_header();
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view key = r.read_str();
        if (key == "name") {
            read_string(r, rec.name);
        } else if (key == "version") {
            read_string(r, rec.version);
        } else if (key == "build") {
            read_string(r, rec.build);
        } else if (key == "build_number") {
            rec.build_number = read_int(r);
        } else if (key == "depends") {
            read_string_list(r, rec.depends);
        } else if (key == "constrains") {
            read_string_list(r, rec.constrains);
        } else if (key == "track_features") {
            read_feature_list(r, rec.track_features);
        } else if (key == "features") {
            read_feature_list(r, rec.features);
        } else if (key == "subdir") {
            read_string(r, rec.subdir);
        } else if (key == "noarch") {
            if (r.peek() == MsgpackType::boolean) {
                rec.noarch = r.read_bool() ? "generic" : "";  // legacy boolean noarch
            } else {
                read_string(r, rec.noarch);
            }
        } else if (key == "license") {
            read_string(r, rec.license);
        } else if (key == "md5") {
            read_hash(r, rec.md5);
        } else if (key == "sha256") {
            read_hash(r, rec.sha256);
        } else if (key == "size") {
            rec.size = static_cast<std::uint64_t>(read_int(r));
        } else if (key == "timestamp") {
            rec.timestamp = read_int(r);
        } else if (key == "url") {
            read_string(r, rec.url);
        } else {
            r.skip();
        }
    }
    if (rec.name.empty()) {
        r.fail(fmt::format("package `{}` has no `name`", fn));
    }
    if (rec.version.empty()) {
        r.fail(fmt::format("package `{}` has no `version`", fn));
    }
    rec.timestamp = detail::timestamp_ms(rec.timestamp);
}

}  // namespace

ShardIndex ShardIndex::parse(std::string_view msgpack, std::string_view source) {
    MsgpackReader r(msgpack, source);
    ShardIndex out;
    if (r.peek() != MsgpackType::map) {
        r.fail("the shard index is not a map");
    }
    bool have_shards = false;
    const std::size_t n = r.read_map_header();
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view key = r.read_str();
        if (key == "info") {
            const std::size_t m = r.read_map_header();
            for (std::size_t j = 0; j < m; ++j) {
                const std::string_view k = r.read_str();
                if (k == "subdir") {
                    read_string(r, out.subdir);
                } else if (k == "base_url") {
                    read_string(r, out.base_url);
                } else if (k == "shards_base_url") {
                    read_string(r, out.shards_base_url);
                } else {
                    r.skip();
                }
            }
        } else if (key == "shards") {
            have_shards = true;
            const std::size_t m = r.read_map_header();
            for (std::size_t j = 0; j < m; ++j) {
                std::string name(r.read_str());
                std::string hash;
                read_hash(r, hash);
                std::transform(hash.begin(), hash.end(), hash.begin(),
                               [](char c) { return c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c; });
                if (!Digest::parse("sha256:" + hash)) {
                    r.fail(fmt::format("the shard of `{}` is not a sha256", name));
                }
                out.shards.insert_or_assign(std::move(name), std::move(hash));
            }
        } else {
            r.skip();  // version / repodata_version and future keys
        }
    }
    if (!have_shards) {
        r.fail("the shard index has no `shards` map");
    }
    if (!r.at_end()) {
        r.fail("unexpected data after the shard index");
    }
    return out;
}

std::string ShardIndex::to_msgpack() const {
    MsgpackWriter w;
    w.map_header(3);
    w.str("info");
    w.map_header(3);
    w.str("base_url");
    w.str(base_url);
    w.str("shards_base_url");
    w.str(shards_base_url);
    w.str("subdir");
    w.str(subdir);
    w.str("shards");
    w.map_header(shards.size());
    for (const auto& [name, hex] : shards) {
        w.str(name);
        std::string raw;
        for (size_t i = 0; i < hex.size(); i += 2) {
            raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
        }
        w.bin(raw);
    }
    w.str("version");
    w.integer(1);
    return w.take();
}

std::vector<PackageRecord> parse_shard(std::string_view msgpack, std::string_view source,
                                       const RepodataOrigin& origin) {
    MsgpackReader r(msgpack, source);
    if (r.peek() != MsgpackType::map) {
        r.fail("the shard is not a map");
    }
    std::vector<PackageRecord> records;
    const std::size_t n = r.read_map_header();
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view key = r.read_str();
        if (key != "packages" && key != "packages.conda") {
            r.skip();  // `removed` and future keys
            continue;
        }
        if (r.peek() == MsgpackType::nil) {
            r.read_nil();
            continue;
        }
        const std::size_t m = r.read_map_header();
        for (std::size_t j = 0; j < m; ++j) {
            PackageRecord& rec = records.emplace_back();
            rec.fn = r.read_str();
            read_record(r, rec, rec.fn);
            rec.channel = origin.channel;
            if (!origin.base_url.empty()) {
                rec.url = origin.base_url + "/" + rec.fn;
            }
            if (rec.subdir.empty()) {
                rec.subdir = origin.subdir;
            }
        }
    }
    if (!r.at_end()) {
        r.fail("unexpected data after the shard");
    }
    detail::drop_tar_bz2_twins(records);
    return records;
}

std::string join_shard_url(std::string_view base, std::string_view relative) {
    if (relative.find("://") != std::string_view::npos) {
        return std::string(relative);
    }
    std::string out(base);
    while (!out.empty() && out.back() == '/') {
        out.pop_back();
    }
    if (relative.starts_with('/')) {
        // Absolute path on the same origin.
        const auto scheme = out.find("://");
        const auto path = scheme == std::string::npos ? 0 : out.find('/', scheme + 3);
        if (path != std::string::npos) {
            out.resize(path);
        }
        out += relative;
        return out;
    }
    for (;;) {
        if (relative.starts_with("./")) {
            relative.remove_prefix(2);
        } else if (relative.starts_with("../")) {
            relative.remove_prefix(3);
            const auto slash = out.rfind('/');
            if (slash != std::string::npos && out.find("://") + 2 != slash) {
                out.resize(slash);
            }
        } else if (relative == "." || relative == "..") {
            if (relative == "..") {
                const auto slash = out.rfind('/');
                if (slash != std::string::npos && out.find("://") + 2 != slash) {
                    out.resize(slash);
                }
            }
            relative = {};
        } else {
            break;
        }
    }
    out += '/';
    out += relative;
    return out;
}

std::string compress_shard_file(std::string_view data) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    if (ZSTD_isError(n)) {
        throw internal_error(fmt::format("zstd compress: {}", ZSTD_getErrorName(n)));
    }
    out.resize(n);
    return out;
}

std::string decompress_shard_file(std::string_view data, std::string_view source) {
    return decode_repodata(std::string(data), RepodataEncoding::zstd, source);
}

}  // namespace envpack
