#include <catch2/catch.hpp>

#include "core/compress.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "resolver/channel.h"

using namespace envpack;

namespace {
const std::string k_channels = std::string(ENVPACK_SHARED_DIR) + "/data/conda/channels";
}

TEST_CASE("channel: names, URLs and local paths", "[channel]") {
    struct Row {
        const char* text;
        Channel::Kind kind;
        const char* url;
        const char* name;
    };
    const Row rows[] = {
        {"conda-forge", Channel::Kind::name, "https://conda.anaconda.org/conda-forge",
         "conda-forge"},
        {"pytorch/label/nightly", Channel::Kind::name,
         "https://conda.anaconda.org/pytorch/label/nightly", "pytorch/label/nightly"},
        {"https://repo.example.com/ch/", Channel::Kind::url, "https://repo.example.com/ch",
         "https://repo.example.com/ch"},
        {"http://127.0.0.1:8080/ch", Channel::Kind::url, "http://127.0.0.1:8080/ch",
         "http://127.0.0.1:8080/ch"},
        {"file:///srv/channel/", Channel::Kind::local, "file:///srv/channel",
         "file:///srv/channel"},
        {"/srv/a/../channel", Channel::Kind::local, "file:///srv/channel", "file:///srv/channel"},
        {"./local", Channel::Kind::local, "file:///home/u/project/local",
         "file:///home/u/project/local"},
        {"../other/ch", Channel::Kind::local, "file:///home/u/other/ch", "file:///home/u/other/ch"},
    };
    for (const auto& row : rows) {
        Channel c = Channel::parse(row.text, "/home/u/project");
        INFO(row.text);
        CHECK(c.kind() == row.kind);
        CHECK(c.url() == row.url);
        CHECK(c.name() == row.name);
        CHECK(Channel::parse(c.to_string(), "/home/u/project") == c);
    }
    CHECK(Channel::parse("conda-forge", "/", {"https://mirror.example.com/conda/"}).url() ==
          "https://mirror.example.com/conda/conda-forge");
    CHECK(Channel::parse("./local", "/p").local_dir() == "/p/local");
    auto defaults = Channel::parse_expanded("defaults", "/");
    REQUIRE(defaults.size() == 2);
    CHECK(defaults[0].url() == "https://repo.anaconda.com/pkgs/main");
    CHECK(defaults[1].url() == "https://repo.anaconda.com/pkgs/r");
    CHECK(Channel::parse_expanded("conda-forge", "/").size() == 1);
    CHECK(Channel::parse("conda-forge", "/").subdir_url("noarch") ==
          "https://conda.anaconda.org/conda-forge/noarch");
    CHECK_THROWS_WITH(Channel::parse("", "/"), Catch::Contains("empty channel"));
    CHECK_THROWS_WITH(Channel::parse("s3://bucket/ch", "/"),
                      Catch::Contains("unsupported URL scheme"));
    CHECK_THROWS_WITH(Channel::parse("file://relative", "/"), Catch::Contains("absolute path"));
    CHECK_THROWS_WITH(Channel::parse("bad name", "/"), Catch::Contains("unexpected character"));
}

TEST_CASE("channel: local channels read in place", "[channel]") {
    TempDir home("channel-test-");
    RepodataFetcher fetcher({home.path() / "repodata", Offline::no, {}}, nullptr, Log::null());
    Channel c = Channel::parse(k_channels + "/pytorch", "/");
    Repodata linux = fetcher.fetch(c, "linux-64");
    CHECK(linux.records.size() == 2181);
    CHECK(linux.records[0].channel == c.name());
    std::string dir = std::filesystem::path(k_channels + "/pytorch").lexically_normal().string();
    CHECK(linux.records[0].url.starts_with("file://" + dir + "/linux-64/"));
    CHECK(fetcher.fetch(c, "noarch").records.empty());
    CHECK_THROWS_WITH(fetcher.fetch(c, "osx-arm64"),
                      Catch::Contains("osx-arm64") && Catch::Contains("no repodata.json"));

    // A channel without a noarch directory reads as an empty noarch; .json.zst is found too.
    std::filesystem::path ch = home.path() / "ch";
    make_dirs(ch / "linux-64");
    std::filesystem::copy_file(k_channels + "/conda-forge-numpy/linux-64/repodata.json",
                               ch / "linux-64" / "repodata.json");
    Channel local = Channel::parse("./ch", home.path());
    CHECK(fetcher.fetch(local, "noarch").records.empty());
    CHECK(fetcher.fetch(local, "linux-64").records.size() > 20);
}

TEST_CASE("channel: offline without a cache names the URL", "[channel]") {
    TempDir home("channel-test-");
    RepodataFetcher fetcher({home.path() / "repodata", Offline::yes, {}}, nullptr, Log::null());
    CHECK_THROWS_WITH(fetcher.fetch(Channel::parse("conda-forge", "/"), "linux-64"),
                      Catch::Contains("https://conda.anaconda.org/conda-forge/linux-64") &&
                          Catch::Contains("offline"));
}

namespace {

void write_zstd(const std::filesystem::path& path, std::string_view text) {
    StringSink out;
    auto z = make_compressor(Compression::zstd, out, 1);
    z->write(text);
    z->finish();
    write_file_atomic(path, out.data(), Durability::none);
}

}  // namespace

TEST_CASE("channel: compressed local repodata is decoded once into the cache", "[channel]") {
    TempDir home("channel-test-");
    RepodataFetcher fetcher({home.path() / "repodata", Offline::no, {}}, nullptr, Log::null());
    std::filesystem::path ch = home.path() / "ch";
    make_dirs(ch / "linux-64");
    const std::string json = read_file(k_channels + "/conda-forge-numpy/linux-64/repodata.json");
    write_zstd(ch / "linux-64" / "repodata.json.zst", json);
    Channel local = Channel::parse("./ch", home.path());

    Repodata first = fetcher.fetch(local, "linux-64");
    REQUIRE(first.records.size() > 20);
    std::filesystem::path entry =
        fetcher.cache_entry("local:" + (ch / "linux-64" / "repodata.json.zst").string());
    REQUIRE(read_file(entry / "repodata.json") == json);

    // The next fetch reads the decoded copy (shown by changing it behind the fetcher's back) ...
    const std::string one = R"({"packages": {"a-1-0.tar.bz2": {"name": "a", "version": "1"}}})";
    write_file_atomic(entry / "repodata.json", one, Durability::none);
    CHECK(fetcher.fetch(local, "linux-64").records.size() == 1);
    // ... until the compressed file changes.
    write_zstd(ch / "linux-64" / "repodata.json.zst", json + " ");
    CHECK(fetcher.fetch(local, "linux-64").records.size() == first.records.size());

    // A broken compressed file names itself; broken JSON inside names the file and the cache.
    write_file_atomic(ch / "linux-64" / "repodata.json.zst", "not zstd", Durability::none);
    CHECK_THROWS_WITH(fetcher.fetch(local, "linux-64"), Catch::Contains("repodata.json.zst"));
    write_zstd(ch / "linux-64" / "repodata.json.zst", R"({"packages": {"a": 5}})");
    CHECK_THROWS_WITH(fetcher.fetch(local, "linux-64"),
                      Catch::Contains("linux-64/repodata.json.zst (cached as ") &&
                          Catch::Contains("package `a` must be an object"));
}
