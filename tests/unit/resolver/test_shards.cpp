#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/msgpack.h"
#include "resolver/channel_loader.h"
#include "resolver/repodata.h"
#include "resolver/shards.h"

using namespace envpack;
using nlohmann::json;

namespace {

const std::string k_repo =
    std::string(ENVPACK_SHARED_DIR) + "/data/conda/channels/conda-format-repo";
const std::string k_zlib_hash = "56a0c19b47ba1a2d0f1390eda489b1c49a00d35814571057e6d81e0c93dfd157";
const std::string k_libgcc_hash =
    "2dcdacf7009b4f1c21f452c5079384340257e0e1cbecb8ec484984d1fa85b115";

std::string record_text(const PackageRecord& r) {
    return fmt::format("{} {} {} {} d=[{}] c=[{}] tf=[{}] f=[{}] {} {} {} {} {} {} {} {} {} {}",
                       r.name, r.version, r.build, r.build_number, fmt::join(r.depends, ","),
                       fmt::join(r.constrains, ","), fmt::join(r.track_features, ","),
                       fmt::join(r.features, ","), r.subdir, r.noarch, r.license, r.md5, r.sha256,
                       r.size, r.timestamp, r.fn, r.channel, r.url);
}

std::string msgpack_of(const json& j) {
    MsgpackWriter w;
    write_json(w, j);
    return w.take();
}

json raw_hash(const std::string& hex) {
    std::vector<std::uint8_t> b;
    for (size_t i = 0; i < hex.size(); i += 2) {
        b.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return json::binary(b);
}

// A local channel with a sharded linux-64 (repodata.json beside it) and an unsharded noarch.
struct ShardedChannel {
    TempDir dir;
    std::filesystem::path subdir = dir.path() / "linux-64";

    explicit ShardedChannel(const json& packages) {
        make_dirs(subdir / "shards");
        make_dirs(dir.path() / "noarch");
        write_file_atomic(dir.path() / "noarch/repodata.json",
                          R"({"info":{"subdir":"noarch"},"packages":{}})");
        json repodata{{"info", {{"subdir", "linux-64"}}}, {"packages", packages}};
        write_file_atomic(subdir / "repodata.json", repodata.dump());
        std::map<std::string, json> by_name;
        for (const auto& [fn, rec] : packages.items()) {
            json r = rec;
            r["sha256"] = raw_hash(rec.at("sha256").get<std::string>());
            by_name[rec.at("name").get<std::string>()]["packages"][fn] = r;
        }
        ShardIndex index;
        index.subdir = "linux-64";
        index.shards_base_url = "./shards/";
        for (const auto& [name, shard] : by_name) {
            const std::string file = compress_shard_file(msgpack_of(shard));
            const std::string hex = Digest::of(file).hex();
            write_file_atomic(subdir / "shards" / (hex + ".msgpack.zst"), file);
            index.shards[name] = hex;
        }
        write_file_atomic(subdir / "repodata_shards.msgpack.zst",
                          compress_shard_file(index.to_msgpack()));
    }
};

json pkg(const std::string& name, const std::string& version, json depends) {
    return {{"name", name},
            {"version", version},
            {"build", "0"},
            {"build_number", 0},
            {"depends", std::move(depends)},
            {"sha256", std::string(64, 'a')},
            {"md5", std::string(32, 'b')},
            {"size", 10},
            {"timestamp", 1700000000},
            {"subdir", "linux-64"}};
}

}  // namespace

TEST_CASE("shards: conda's sharded test channel reads as its repodata.json", "[shards]") {
    const std::string index_file = k_repo + "/linux-64/repodata_shards.msgpack.zst";
    ShardIndex index =
        ShardIndex::parse(decompress_shard_file(read_file(index_file), index_file), index_file);
    CHECK(index.subdir == "linux-64");
    CHECK(index.base_url.empty());
    CHECK(index.shards_base_url.empty());
    REQUIRE(index.shards.size() == 2);
    CHECK(index.shards.at("zlib") == k_zlib_hash);
    CHECK(index.shards.at("libgcc-ng") == k_libgcc_hash);

    const RepodataOrigin origin{"file://" + k_repo, "linux-64", "file://" + k_repo + "/linux-64"};
    Repodata whole = read_repodata_file(k_repo + "/linux-64/repodata.json", origin);
    for (const auto& [name, hex] : index.shards) {
        const std::string file = k_repo + "/linux-64/" + hex + ".msgpack.zst";
        const std::string bytes = read_file(file);
        CHECK(Digest::of(bytes).hex() == hex);
        auto records = parse_shard(decompress_shard_file(bytes, file), file, origin);
        std::vector<std::string> got, want;
        for (const auto& r : records) {
            got.push_back(record_text(r));
        }
        for (const auto& r : whole.records) {
            if (r.name == name) {
                want.push_back(record_text(r));
            }
        }
        INFO(name);
        CHECK(got == want);
        CHECK(got.size() == 1);  // zlib's .tar.bz2 twin dropped for its .conda
    }
}

TEST_CASE("shards: index round trip and hashes as bin or hex", "[shards]") {
    ShardIndex index;
    index.subdir = "noarch";
    index.base_url = "https://example.com/pkgs/";
    index.shards_base_url = "./shards/";
    index.shards = {{"a", k_zlib_hash}, {"b", k_libgcc_hash}};
    const std::string bytes = index.to_msgpack();
    ShardIndex back = ShardIndex::parse(bytes, "t");
    CHECK(back.subdir == "noarch");
    CHECK(back.base_url == index.base_url);
    CHECK(back.shards_base_url == index.shards_base_url);
    CHECK(back.shards == index.shards);
    CHECK(index.to_msgpack() == bytes);  // deterministic

    json hex_index{
        {"info", {{"subdir", "x"}}}, {"repodata_version", 2}, {"shards", {{"c", k_zlib_hash}}}};
    CHECK(ShardIndex::parse(msgpack_of(hex_index), "t").shards.at("c") == k_zlib_hash);
}

TEST_CASE("shards: record fields read as repodata.json reads them", "[shards]") {
    json shard{{"packages",
                {{"a-1-0.tar.bz2",
                  {{"name", "a"},
                   {"version", "1"},
                   {"build", "0"},
                   {"build_number", 2},
                   {"depends", nullptr},
                   {"constrains", {"b <2"}},
                   {"track_features", "x y"},
                   {"features", "mkl"},
                   {"noarch", true},
                   {"md5", raw_hash(std::string(32, 'c'))},
                   {"sha256", raw_hash(k_zlib_hash)},
                   {"timestamp", 1700000000},
                   {"size", 5},
                   {"license_family", "MIT"}}}}},
               {"packages.conda", nullptr},
               {"removed", {"old-1-0.tar.bz2"}}};
    auto records = parse_shard(msgpack_of(shard), "t",
                               RepodataOrigin{"ch", "linux-64", "file:///ch/linux-64"});
    REQUIRE(records.size() == 1);
    const auto& r = records[0];
    CHECK(r.depends.empty());
    CHECK(r.constrains == std::vector<std::string>{"b <2"});
    CHECK(r.track_features == std::vector<std::string>{"x", "y"});
    CHECK(r.features == std::vector<std::string>{"mkl"});
    CHECK(r.noarch == "generic");
    CHECK(r.md5 == std::string(32, 'c'));
    CHECK(r.sha256 == k_zlib_hash);
    CHECK(r.timestamp == 1700000000000);
    CHECK(r.subdir == "linux-64");
    CHECK(r.url == "file:///ch/linux-64/a-1-0.tar.bz2");
    CHECK(r.channel == "ch");
}

TEST_CASE("shards: malformed shards and indexes are protocol errors", "[shards]") {
    auto kind_of = [](auto&& f) {
        try {
            f();
        } catch (const Error& e) {
            return e.kind();
        }
        return ErrorKind::internal;
    };
    const RepodataOrigin origin{"ch", "linux-64", ""};
    CHECK(kind_of([&] { parse_shard("\xc1garbage", "s", origin); }) == ErrorKind::protocol);
    CHECK(kind_of([&] { parse_shard(msgpack_of(json::array()), "s", origin); }) ==
          ErrorKind::protocol);
    CHECK(
        kind_of([&] {
            parse_shard(msgpack_of({{"packages", {{"x.conda", {{"version", "1"}}}}}}), "s", origin);
        }) == ErrorKind::protocol);  // no name
    CHECK(kind_of([&] {
              ShardIndex::parse(msgpack_of({{"info", json::object()}}), "i");
          }) == ErrorKind::protocol);  // no shards
    CHECK(kind_of([&] {
              ShardIndex::parse(msgpack_of({{"shards", {{"a", "abc"}}}}), "i");
          }) == ErrorKind::protocol);  // not a sha256
    const std::string index = ShardIndex{}.to_msgpack();
    CHECK(kind_of([&] { ShardIndex::parse(index.substr(0, index.size() - 1), "i"); }) ==
          ErrorKind::protocol);  // truncated
    CHECK(kind_of([&] { decompress_shard_file("not zstd", "z"); }) != ErrorKind::internal);
}

TEST_CASE("shards: relative URLs", "[shards]") {
    struct Row {
        const char* base;
        const char* rel;
        const char* want;
    };
    const Row rows[] = {
        {"https://h/ch/linux-64", "", "https://h/ch/linux-64/"},
        {"https://h/ch/linux-64", "./shards/", "https://h/ch/linux-64/shards/"},
        {"https://h/ch/linux-64", "shards/", "https://h/ch/linux-64/shards/"},
        {"https://h/ch/linux-64", "../shards/", "https://h/ch/shards/"},
        {"https://h/ch/linux-64", "/cdn/x/", "https://h/cdn/x/"},
        {"https://h/ch/linux-64", "https://cdn/s/", "https://cdn/s/"},
        {"file:///srv/ch/linux-64", "./shards/", "file:///srv/ch/linux-64/shards/"},
    };
    for (const auto& row : rows) {
        INFO(row.rel);
        CHECK(join_shard_url(row.base, row.rel) == row.want);
    }
}

TEST_CASE("shards: the loader reads only the names a request reaches", "[shards]") {
    json packages{{"app-1-0.tar.bz2", pkg("app", "1", {"lib >=1", "__glibc >=2.17"})},
                  {"app-2-0.tar.bz2", pkg("app", "2", {"lib >=2", "python 3.12.*"})},
                  {"lib-1-0.tar.bz2", pkg("lib", "1", json::array())},
                  {"lib-2-0.tar.bz2", pkg("lib", "2", json::array())},
                  {"python-3.12.0-0.tar.bz2", pkg("python", "3.12.0", json::array())},
                  {"pip-24-0.tar.bz2", pkg("pip", "24", json::array())},
                  {"other-1-0.tar.bz2", pkg("other", "1", {"lib"})}};
    ShardedChannel ch(packages);
    Log log(LogOptions{LogLevel::quiet});
    TempDir cache;
    FetchOptions options;
    options.cache_dir = cache.path();
    const Channel channel = Channel::parse(ch.dir.path().string(), "/");
    const std::vector<Channel> channels{channel};
    const std::vector<MatchSpec> specs{MatchSpec::parse("app")};

    ChannelLoader sharded(options, nullptr, log);
    auto got = sharded.load(channels, "linux-64", specs, PipAsPythonDependency::yes);
    REQUIRE(got.size() == 1);
    std::vector<std::string> names;
    for (const auto& r : got[0].records) {
        names.push_back(r.name + "-" + r.version);
    }
    std::sort(names.begin(), names.end());
    CHECK(names ==
          std::vector<std::string>{"app-1", "app-2", "lib-1", "lib-2", "pip-24", "python-3.12.0"});
    CHECK(sharded.stats().sharded_subdirs == 1);
    CHECK(sharded.shard_stats().local == 4);  // app, lib, python, pip; never `other`

    // Each loaded record equals the one repodata.json gives.
    std::filesystem::remove(ch.subdir / "repodata_shards.msgpack.zst");
    ChannelLoader whole(options, nullptr, log);
    auto all = whole.load(channels, "linux-64", specs, PipAsPythonDependency::yes);
    CHECK(whole.stats().sharded_subdirs == 0);
    REQUIRE(all[0].records.size() == packages.size());
    for (const auto& r : got[0].records) {
        auto it = std::find_if(all[0].records.begin(), all[0].records.end(),
                               [&](const auto& w) { return w.fn == r.fn; });
        REQUIRE(it != all[0].records.end());
        CHECK(record_text(*it) == record_text(r));
    }
}

TEST_CASE("shards: a local shard that does not match its index, or is missing", "[shards]") {
    ShardedChannel ch(json{{"app-1-0.tar.bz2", pkg("app", "1", json::array())}});
    Log log(LogOptions{LogLevel::quiet});
    TempDir cache;
    FetchOptions options;
    options.cache_dir = cache.path();
    const std::vector<Channel> channels{Channel::parse(ch.dir.path().string(), "/")};
    const std::vector<MatchSpec> specs{MatchSpec::parse("app")};
    std::filesystem::path shard;
    for (const auto& f : std::filesystem::directory_iterator(ch.subdir / "shards")) {
        shard = f.path();
    }
    write_file_atomic(shard, compress_shard_file(msgpack_of({{"packages", json::object()}})));
    ChannelLoader loader(options, nullptr, log);
    try {
        loader.load(channels, "linux-64", specs);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::protocol);
        CHECK(std::string(e.what()).find("but shard index") != std::string::npos);
    }
    std::filesystem::remove(shard);
    try {
        loader.load(channels, "linux-64", specs);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::not_found);
        CHECK(std::string(e.what()).find("which is missing") != std::string::npos);
        CHECK(static_cast<int>(e.code()) == 1);
    }
}
