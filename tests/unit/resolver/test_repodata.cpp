#include <bzlib.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "core/compress.h"
#include "core/error.h"
#include "core/fs.h"
#include "resolver/repodata.h"

using namespace envpack;

namespace {

const std::string k_channels = std::string(ENVPACK_SHARED_DIR) + "/data/conda/channels";
const RepodataOrigin k_origin{"test", "linux-64", "https://example.com/test/linux-64"};

const PackageRecord* find(const Repodata& r, std::string_view fn) {
    auto it =
        std::find_if(r.records.begin(), r.records.end(), [&](const auto& x) { return x.fn == fn; });
    return it == r.records.end() ? nullptr : &*it;
}

std::string parse_error(std::string_view json) {
    try {
        parse_repodata(json, "mem.json", k_origin);
    } catch (const Error& e) {
        return e.what();
    }
    FAIL("expected an error for: " << json);
    return {};
}

const char* k_small = R"({
  "info": {"subdir": "linux-64", "extra": [1, {"a": null}]},
  "packages": {
    "a-1.0-0.tar.bz2": {"name": "a", "version": "1.0", "build": "0", "build_number": 0,
      "depends": ["b >=2", "c"], "constrains": null, "md5": "m", "sha256": "s", "size": 10,
      "timestamp": 1600000000, "track_features": "x y,z", "license": null,
      "nested": {"deep": [[[]], {"k": "v\"q\\"}]}},
    "b-2.0-0.tar.bz2": {"name": "b", "version": "2.0", "build": "0", "depends": null,
      "timestamp": 1600000000123, "noarch": true},
    "caf\u00e9-1-0.tar.bz2": {"name": "caf\u00e9", "version": "1", "build": "0",
      "features": ["mkl"], "url": "https://mirror/x/caf.tar.bz2"}
  },
  "packages.conda": {
    "b-2.0-0.conda": {"name": "b", "version": "2.0", "build": "0", "depends": [],
      "track_features": ["t1", "t2"], "subdir": "noarch", "noarch": "python"}
  },
  "removed": ["old-1-0.tar.bz2"],
  "repodata_version": 1,
  "signatures": {"a-1.0-0.tar.bz2": {"k": {"signature": "..."}}}
}
)";

}  // namespace

TEST_CASE("repodata: fields, nulls, features, timestamps, .conda preferred", "[repodata]") {
    Repodata r = parse_repodata(k_small, "small.json", k_origin);
    CHECK(r.subdir == "linux-64");
    REQUIRE(r.records.size() == 3);
    CHECK(r.replaced_tar_bz2 == 1);
    CHECK(find(r, "b-2.0-0.tar.bz2") == nullptr);
    const PackageRecord* a = find(r, "a-1.0-0.tar.bz2");
    REQUIRE(a != nullptr);
    CHECK(a->name == "a");
    CHECK(a->depends == std::vector<std::string>{"b >=2", "c"});
    CHECK(a->constrains.empty());
    CHECK(a->track_features == std::vector<std::string>{"x", "y", "z"});
    CHECK(a->timestamp == 1600000000000);
    CHECK(a->size == 10);
    CHECK(a->md5 == "m");
    CHECK(a->sha256 == "s");
    CHECK(a->license.empty());
    CHECK(a->channel == "test");
    CHECK(a->subdir == "linux-64");
    CHECK(a->url == "https://example.com/test/linux-64/a-1.0-0.tar.bz2");
    const PackageRecord* b = find(r, "b-2.0-0.conda");
    REQUIRE(b != nullptr);
    CHECK(b->track_features == std::vector<std::string>{"t1", "t2"});
    CHECK(b->subdir == "noarch");
    CHECK(b->noarch == "python");
    const PackageRecord* cafe = find(r, "caf\xc3\xa9-1-0.tar.bz2");
    REQUIRE(cafe != nullptr);
    CHECK(cafe->name == "caf\xc3\xa9");
    CHECK(cafe->features == std::vector<std::string>{"mkl"});
    // The channel's URL wins over a record's own `url`.
    CHECK(cafe->url == "https://example.com/test/linux-64/caf\xc3\xa9-1-0.tar.bz2");
    Repodata no_base = parse_repodata(k_small, "small.json", {"test", "linux-64", ""});
    CHECK(find(no_base, "caf\xc3\xa9-1-0.tar.bz2")->url == "https://mirror/x/caf.tar.bz2");
}

TEST_CASE("repodata: no info key, empty sections, legacy noarch", "[repodata]") {
    Repodata r = parse_repodata(
        R"({"packages": {"n-1-0.tar.bz2": {"name": "n", "version": "1", "noarch": true,
                        "timestamp": 1600000000000}}, "packages.conda": {}})",
        "x", {"ch", "noarch", ""});
    CHECK(r.subdir == "noarch");
    REQUIRE(r.records.size() == 1);
    CHECK(r.records[0].noarch == "generic");
    CHECK(r.records[0].subdir == "noarch");
    CHECK(r.records[0].url.empty());
    CHECK(r.records[0].timestamp == 1600000000000);
    CHECK(parse_repodata("{}", "x", k_origin).records.empty());
    CHECK(parse_repodata(R"({"packages": null})", "x", k_origin).records.empty());
}

TEST_CASE("repodata: the shared channels", "[repodata]") {
    SECTION("conda-forge-numpy: no info, null depends/constrains, .conda twins") {
        Repodata r =
            read_repodata_file(k_channels + "/conda-forge-numpy/linux-64/repodata.json",
                               {"conda-forge", "linux-64", "https://c/conda-forge/linux-64"});
        CHECK(r.records.size() + r.replaced_tar_bz2 == 34);
        std::size_t null_depends = 0;
        for (const auto& rec : r.records) {
            CHECK(!rec.name.empty());
            CHECK(rec.sha256.size() == 64);
            CHECK(rec.url.starts_with("https://c/conda-forge/linux-64/"));
            CHECK(rec.timestamp > 1000000000000);
            null_depends += rec.depends.empty() ? 1 : 0;
        }
        CHECK(null_depends > 0);
        const PackageRecord* mutex = find(r, "_libgcc_mutex-0.1-conda_forge.tar.bz2");
        REQUIRE(mutex != nullptr);
        CHECK(mutex->depends.empty());
        CHECK(mutex->constrains.empty());
        CHECK(mutex->track_features.empty());
        CHECK(mutex->timestamp == 1578324546000);
    }
    SECTION("pytorch: 2,181 records, track_features strings") {
        Repodata r = read_repodata_file(k_channels + "/pytorch/linux-64/repodata.json", k_origin);
        CHECK(r.records.size() == 2181);
        const PackageRecord* cuda = find(r, "cuda100-1.0-0.tar.bz2");
        REQUIRE(cuda != nullptr);
        CHECK(cuda->track_features == std::vector<std::string>{"cuda100"});
        CHECK(cuda->timestamp == 1544155153559);
    }
    SECTION("conda-test-index: legacy features, name differing from file name") {
        Repodata r =
            read_repodata_file(k_channels + "/conda-test-index/linux-64/repodata.json", k_origin);
        CHECK(r.records.size() == 1149);
        const PackageRecord* custom = find(r, "anaconda-custom-0.tar.bz2");
        REQUIRE(custom != nullptr);
        CHECK(custom->name == "dummy-anaconda");
        std::size_t with_features = std::count_if(
            r.records.begin(), r.records.end(), [](const auto& x) { return !x.features.empty(); });
        CHECK(with_features == 110);
    }
}

TEST_CASE("repodata: zstd and bzip2 files read like the JSON", "[repodata]") {
    TempDir dir("repodata-test-");
    write_file_atomic(dir.path() / "repodata.json", k_small, Durability::none);
    {
        StringSink out;
        auto z = make_compressor(Compression::zstd, out, 1);
        z->write(std::string_view(k_small));
        z->finish();
        write_file_atomic(dir.path() / "repodata.json.zst", out.data(), Durability::none);
    }
    {
        std::string in(k_small);
        std::string out(in.size() + 1024, '\0');
        unsigned len = static_cast<unsigned>(out.size());
        REQUIRE(BZ2_bzBuffToBuffCompress(out.data(), &len, in.data(),
                                         static_cast<unsigned>(in.size()), 9, 0, 0) == BZ_OK);
        out.resize(len);
        write_file_atomic(dir.path() / "repodata.json.bz2", out, Durability::none);
        // A truncated copy must fail with a clear error, not crash or return partial data.
        write_file_atomic(dir.path() / "cut.json.bz2", out.substr(0, out.size() / 2),
                          Durability::none);
    }
    Repodata plain = read_repodata_file(dir.path() / "repodata.json", k_origin);
    Repodata zst = read_repodata_file(dir.path() / "repodata.json.zst", k_origin);
    Repodata bz2 = read_repodata_file(dir.path() / "repodata.json.bz2", k_origin);
    REQUIRE(plain.records.size() == 3);
    REQUIRE(zst.records.size() == 3);
    REQUIRE(bz2.records.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
        CHECK(zst.records[i].fn == plain.records[i].fn);
        CHECK(bz2.records[i].depends == plain.records[i].depends);
    }
    CHECK_THROWS_WITH(read_repodata_file(dir.path() / "cut.json.bz2", k_origin),
                      Catch::Contains("cut.json.bz2") && Catch::Contains("bzip2"));
    write_file_atomic(dir.path() / "bad.json.zst", "not zstd at all", Durability::none);
    CHECK_THROWS_WITH(read_repodata_file(dir.path() / "bad.json.zst", k_origin),
                      Catch::Contains("bad.json.zst") && Catch::Contains("zstd"));
    CHECK_THROWS_WITH(read_repodata_file(dir.path() / "missing.json", k_origin),
                      Catch::Contains("missing.json"));
    write_file_atomic(dir.path() / "empty.json", "", Durability::none);
    CHECK_THROWS_WITH(read_repodata_file(dir.path() / "empty.json", k_origin),
                      Catch::Contains("empty.json") && Catch::Contains("empty document"));
}

TEST_CASE("repodata: every truncation of a document is an error naming the source", "[repodata]") {
    std::string doc = k_small;
    // Cut before the final `}` (anything shorter is incomplete JSON).
    std::size_t last = doc.rfind('}');
    for (std::size_t n = 0; n < last; ++n) {
        try {
            parse_repodata(std::string_view(doc).substr(0, n), "cut.json", k_origin);
            FAIL("a document cut at byte " << n << " parsed");
        } catch (const Error& e) {
            REQUIRE(std::string(e.what()).starts_with("parse repodata `cut.json`:"));
        }
    }
}

TEST_CASE("repodata: wrong types are errors with a position", "[repodata]") {
    CHECK_THAT(parse_error(R"({"packages": {"a-1-0.tar.bz2": {"name": "a", "version": "1",
        "depends": "b"}}})"),
               Catch::Contains("line 2") && Catch::Contains("`depends` must be a list of strings"));
    CHECK_THAT(parse_error(R"({"packages": {"a-1-0.tar.bz2": {"name": "a", "version": "1",
        "depends": [1]}}})"),
               Catch::Contains("an entry of `depends` must be a string"));
    CHECK_THAT(
        parse_error(R"({"packages": {"a": {"name": "a", "version": "1", "build_number": "3"}}})"),
        Catch::Contains("`build_number` must be a number"));
    CHECK_THAT(parse_error(R"({"packages": []})"), Catch::Contains("`packages` must be an object"));
    CHECK_THAT(parse_error(R"({"packages": {"a": 5}})"),
               Catch::Contains("package `a` must be an object"));
    CHECK_THAT(parse_error(R"({"packages": {"a": {"version": "1"}}})"),
               Catch::Contains("no `name`"));
    CHECK_THAT(parse_error(R"({"packages": {"a": {"name": "a"}}})"),
               Catch::Contains("no `version`"));
    CHECK_THAT(parse_error(R"({"packages": {"a": {"name": "a\q", "version": "1"}}})"),
               Catch::Contains("bad escape"));
    CHECK_THAT(parse_error(R"([1, 2])"), Catch::Contains("must be a JSON object"));
    CHECK_THAT(parse_error(R"({"info": {}} trailing)"), Catch::Contains("unexpected data"));
    CHECK_THAT(parse_error(R"({"x": [1 2]})"), Catch::Contains("expected `,` or `]`"));
    CHECK_THAT(parse_error(R"({"x": tru})"), Catch::Contains("invalid literal"));
    CHECK_THAT(
        parse_error(
            R"({"packages": {"a": {"name": "a", "version": "1", "size": 99999999999999999999}}})"),
        Catch::Contains("out of range"));
    // Deep nesting in skipped values cannot exhaust the stack.
    std::string deep = "{\"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    CHECK(parse_repodata(deep, "deep", k_origin).records.empty());
}

TEST_CASE("repodata: lists with many escaped strings keep every entry intact", "[repodata]") {
    std::string deps;
    std::vector<std::string> want;
    for (int i = 0; i < 40; ++i) {
        // Every other entry has an escape (\u0020 is a space), so it lives in the scanner's
        // buffer until copied; short and long entries exercise small-string storage too.
        std::string name =
            i % 3 == 0 ? "p" + std::to_string(i) : "package-number-" + std::to_string(i);
        if (i % 2 == 0) {
            deps += "\"" + name + "\\u0020>=1\",";
            want.push_back(name + " >=1");
        } else {
            deps += "\"" + name + "\",";
            want.push_back(name);
        }
    }
    deps.pop_back();
    std::string json =
        R"({"packages": {"a-1-0.tar.bz2": {"name": "a", "version": "1", "depends": [)" + deps +
        R"(], "constrains": ["x\ty"]}}})";
    Repodata r = parse_repodata(json, "esc.json", k_origin);
    REQUIRE(r.records.size() == 1);
    CHECK(r.records[0].depends == want);
    CHECK(r.records[0].constrains == std::vector<std::string>{"x\ty"});
}
