// Parsing a repodata in several threads gives exactly what one thread gives: the same records in
// the same order, and the same error. Shares are forced down to a few bytes so that documents of
// a few kilobytes split at many places, including places that only look like record keys.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "resolver/repodata.h"

using namespace envpack;

namespace {

const RepodataOrigin k_origin{"test", "linux-64", "https://example.com/test/linux-64"};

struct Lcg {
    std::uint64_t s;
    std::uint32_t below(std::uint32_t n) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::uint32_t>(s >> 33) % n;
    }
};

// Texts that look like a record key when searched for, but are not one.
const char* k_decoys[] = {
    // inside a string (escaped quotes)
    R"("license": "see \"x-1-0.conda\": {\"name\": \"x\"}", )",
    // a nested object's key inside a record, after `{` and after `,`
    R"("extra": {"y-1-0.tar.bz2": {"a": 1}, "z-2-0.conda": {"b": [1]}}, )",
    // a key that is not a record at all
    R"("about": {"home": "https://h/a.conda"}, )",
};

std::string record(Lcg& rng, const std::string& name, int i, bool decoy) {
    std::string out = "{" + std::string(decoy ? k_decoys[rng.below(3)] : "");
    out += R"("name": ")" + name + R"(", "version": "1.)" + std::to_string(i) +
           R"(", "build": "h0_)" + std::to_string(i) + R"(", "build_number": )" +
           std::to_string(rng.below(5)) + R"(, "depends": ["python >=3.9", "libx 1.*"], )" +
           R"("constrains": null, "md5": "0123", "timestamp": )" + std::to_string(1600000000 + i) +
           "}";
    return out;
}

// `n` records in `packages`, with .conda twins of some of them in `packages.conda`; a
// `signatures` map whose keys are file names sits between the two, and `info` comes last.
std::string document(std::uint64_t seed, int n) {
    Lcg rng{seed};
    std::string tar;
    std::string conda;
    std::string signatures;
    for (int i = 0; i < n; ++i) {
        std::string name = "pkg" + std::to_string(rng.below(20));
        std::string stem = name + "-1." + std::to_string(i) + "-h0_" + std::to_string(i);
        bool decoy = rng.below(3) == 0;
        tar += (tar.empty() ? "" : ",\n  ") + ("\"" + stem + ".tar.bz2\": ") +
               record(rng, name, i, decoy);
        if (rng.below(2) == 0) {
            conda += (conda.empty() ? "" : ", ") + ("\"" + stem + ".conda\":") +
                     record(rng, name, i, decoy);
            signatures += (signatures.empty() ? "" : ",") + ("\"" + stem + ".conda\": {\"k\": 1}");
        }
    }
    return "{\"packages\": {\n  " + tar + "},\n \"signatures\": {" + signatures +
           "},\n \"packages.conda\": {" + conda +
           "},\n \"info\": {\"subdir\": \"linux-aarch64\"}}\n";
}

void require_same(const Repodata& a, const Repodata& b) {
    REQUIRE(a.subdir == b.subdir);
    REQUIRE(a.replaced_tar_bz2 == b.replaced_tar_bz2);
    REQUIRE(a.records.size() == b.records.size());
    for (std::size_t i = 0; i < a.records.size(); ++i) {
        const PackageRecord& x = a.records[i];
        const PackageRecord& y = b.records[i];
        INFO("record " << i << ": " << x.fn);
        REQUIRE(x.fn == y.fn);
        REQUIRE(x.name == y.name);
        REQUIRE(x.version == y.version);
        REQUIRE(x.build == y.build);
        REQUIRE(x.build_number == y.build_number);
        REQUIRE(x.depends == y.depends);
        REQUIRE(x.constrains == y.constrains);
        REQUIRE(x.license == y.license);
        REQUIRE(x.md5 == y.md5);
        REQUIRE(x.timestamp == y.timestamp);
        REQUIRE(x.subdir == y.subdir);
        REQUIRE(x.channel == y.channel);
        REQUIRE(x.url == y.url);
    }
}

// Shares of a byte: documents of a few kilobytes split wherever the threads allow.
RepodataParseOptions in_threads(unsigned threads) {
    RepodataParseOptions options;
    options.threads = threads;
    options.min_share_bytes = 1;
    return options;
}

std::string error_of(std::string_view json, const RepodataParseOptions& options) {
    try {
        parse_repodata(json, "mem.json", k_origin, options);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("repodata in threads: the same records as one thread, wherever it splits", "[repodata]") {
    unsigned shares_kept = 0;
    unsigned shares_tried = 0;
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
        std::string doc = document(seed, 5 + static_cast<int>(seed * 7 % 60));
        Repodata one = parse_repodata(doc, "mem.json", k_origin, in_threads(1));
        REQUIRE(one.subdir == "linux-aarch64");  // `info` after the packages still applies
        REQUIRE_FALSE(one.records.empty());
        CHECK(one.records.front().subdir == "linux-aarch64");
        for (unsigned threads = 2; threads <= 9; ++threads) {
            INFO("seed " << seed << ", " << threads << " threads");
            Repodata many = parse_repodata(doc, "mem.json", k_origin, in_threads(threads));
            require_same(one, many);
            shares_kept += many.shares;
            shares_tried += threads;
        }
    }
    // Most guesses are right (the decoys make some wrong): the threads did the work.
    CHECK(shares_kept > shares_tried / 2);
    CHECK(shares_kept < shares_tried);
}

TEST_CASE("repodata in threads: errors are the ones one thread reports", "[repodata]") {
    std::string doc = document(7, 40);
    std::vector<std::string> broken;
    // Cut anywhere (truncated downloads).
    for (std::size_t n = 1; n < doc.size(); n += doc.size() / 37) {
        broken.push_back(doc.substr(0, n));
    }
    // A wrong type early, in the middle and late.
    for (double at : {0.1, 0.5, 0.9}) {
        std::string d = doc;
        std::size_t p = d.find("\"build_number\": ", static_cast<std::size_t>(d.size() * at));
        REQUIRE(p != std::string::npos);
        d.replace(p, 16, "\"build_number\": \"x\", \"y\": ");
        broken.push_back(d);
    }
    for (const auto& d : broken) {
        std::string want = error_of(d, in_threads(1));
        REQUIRE(want.starts_with("parse repodata `mem.json`"));
        for (unsigned threads : {2u, 3u, 5u, 8u}) {
            INFO(threads << " threads, " << d.size() << " bytes");
            CHECK(error_of(d, in_threads(threads)) == want);
        }
    }
}

TEST_CASE("repodata in threads: small documents stay on one thread", "[repodata]") {
    // The default share (8 MiB) keeps anything smaller on the calling thread; this is what
    // the shared channels go through. Same result either way.
    std::string doc = document(3, 50);
    Repodata plain = parse_repodata(doc, "mem.json", k_origin);
    CHECK(plain.shares == 1);
    require_same(plain, parse_repodata(doc, "mem.json", k_origin, in_threads(4)));
}

TEST_CASE("repodata in threads: a large file, pages handed back as the threads go", "[repodata]") {
    // Over 16 MiB per share, so every reader hands consumed pages of the mapping back; an error
    // near the end then counts lines through pages that were handed back (read again from the
    // file) and must still name the same line as an in-memory parse.
    std::string doc = document(11, 100000);
    REQUIRE(doc.size() > 32u << 20);
    TempDir dir("repodata-parallel-");
    const std::filesystem::path path = dir.path() / "repodata.json";
    write_file_atomic(path, doc, Durability::none);
    Repodata one = read_repodata_file(path, k_origin, in_threads(1));
    Repodata two = read_repodata_file(path, k_origin, in_threads(2));
    CHECK(two.shares == 2);
    require_same(one, two);
    require_same(one, parse_repodata(doc, "mem.json", k_origin, in_threads(3)));

    std::size_t p = doc.rfind("\"build_number\": ");
    doc.replace(p, 16, "\"build_number\": [");
    write_file_atomic(path, doc, Durability::none);
    std::string want = error_of(doc, in_threads(1));
    REQUIRE(want.find("line ") != std::string::npos);
    want = want.substr(want.find(": at line"));
    for (unsigned threads : {1u, 2u, 4u}) {
        try {
            read_repodata_file(path, k_origin, in_threads(threads));
            FAIL("a broken file parsed");
        } catch (const Error& e) {
            std::string got = e.what();
            CHECK(got.substr(got.find(": at line")) == want);
        }
    }
}
