// Version ordering (CEP 33) against conda's own facts (shared/data/conda/versions/order.tsv, every
// row confirmed with conda's VersionOrder) and against the rules conda documents.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "resolver/version.h"

using envpack::Version;

namespace {

Version v(const char* s) {
    return Version::parse(s);
}

struct Row {
    std::string a;
    std::string rel;
    std::string b;
};

std::vector<Row> read_order_tsv() {
    std::ifstream in(std::string(ENVPACK_SHARED_DIR) + "/data/conda/versions/order.tsv");
    REQUIRE(in.good());
    std::vector<Row> rows;
    std::string line;
    std::getline(in, line);  // header
    REQUIRE(line == "version_a\trelation\tversion_b");
    while (std::getline(in, line)) {
        if (line.empty()) {
            continue;
        }
        std::istringstream fields(line);
        Row r;
        std::getline(fields, r.a, '\t');
        std::getline(fields, r.rel, '\t');
        std::getline(fields, r.b, '\t');
        rows.push_back(r);
    }
    return rows;
}

}  // namespace

TEST_CASE("version order matches conda's confirmed facts (order.tsv)") {
    auto rows = read_order_tsv();
    REQUIRE(rows.size() == 123);
    int less = 0;
    int equal = 0;
    for (const auto& r : rows) {
        INFO(r.a << " " << r.rel << " " << r.b);
        Version a = Version::parse(r.a);
        Version b = Version::parse(r.b);
        if (r.rel == "<") {
            ++less;
            CHECK(a < b);
            CHECK(b > a);
            CHECK_FALSE(a == b);
        } else {
            REQUIRE(r.rel == "==");
            ++equal;
            CHECK(a == b);
            CHECK_FALSE(a < b);
            CHECK_FALSE(b < a);
        }
    }
    CHECK(less == 117);
    CHECK(equal == 6);
}

TEST_CASE("version order: chains from order.tsv are transitive") {
    // Every `<` row is consecutive in a sorted list; check the order also holds two steps apart.
    auto rows = read_order_tsv();
    for (size_t i = 0; i + 1 < rows.size(); ++i) {
        if (rows[i].rel == "<" && rows[i + 1].rel == "<" && rows[i].b == rows[i + 1].a) {
            INFO(rows[i].a << " < " << rows[i + 1].b);
            CHECK(Version::parse(rows[i].a) < Version::parse(rows[i + 1].b));
        }
    }
}

TEST_CASE("version order: conda's documented rules") {
    // Trailing zeros do not matter; missing components are 0.
    CHECK(v("1.1") == v("1.1.0"));
    CHECK(v("1.1") == v("1.1.0.0"));
    // A segment starting with a letter gets an implicit 0.
    CHECK(v("1.1.a1") == v("1.1.0a1"));
    // Case-insensitive.
    CHECK(v("1.0RC1") == v("1.0rc1"));
    // dev < any other string < no string < post.
    CHECK(v("1.0dev") < v("1.0a1"));
    CHECK(v("1.0dev1") < v("1.0a1"));
    // ...but a separate `.dev1` segment is a new segment, compared after 1.0 (not PEP 440).
    CHECK(v("1.0.dev1") > v("1.0a1"));
    CHECK(v("1.0a1") < v("1.0rc1"));
    CHECK(v("1.0rc1") < v("1.0"));
    CHECK(v("1.0") < v("1.0post1"));
    CHECK(v("1.0.post1") < v("1.0.1"));
    CHECK(v("1.0post1") < v("1.1dev"));
    // Strings sort before numbers.
    CHECK(v("1.1a") < v("1.1"));
    CHECK(v("1.1.a") < v("1.1.0"));
    // Epochs dominate.
    CHECK(v("1!0.1") > v("999.0"));
    CHECK(v("0!1.0") == v("1.0"));
    // Local versions compare after the public part.
    CHECK(v("1.0+abc.2") > v("1.0+abc.1"));
    CHECK(v("1.0+1") > v("1.0"));
    CHECK(v("1.0+1") < v("1.0.1"));
    // `-` is `_` when there is no `_`; `_` separates like `.`.
    CHECK(v("1.0-1") == v("1.0_1"));
    CHECK(v("1.0_1") == v("1.0.1"));
    // A trailing `_` is kept (openssl convention): 1.0.1_ < 1.0.1a < 1.0.1.
    CHECK(v("1.0.1_") < v("1.0.1a"));
    CHECK(v("1.0.1_") < v("1.0.1"));
    // Numbers compare numerically, whatever their width.
    CHECK(v("1.10") > v("1.9"));
    CHECK(v("1.010") == v("1.10"));
    CHECK(v("2024.123456789012345678901234567890") > v("2024.99999999999999999999"));
}

TEST_CASE("version prefix matching (starts_with) follows conda") {
    // python=3.6.2 accepts 3.6.2rc1, 3.6.2post1 and 3.6.2.1, but not 3.6.20 (NOTES.md).
    CHECK(v("3.6.2rc1").starts_with(v("3.6.2")));
    CHECK(v("3.6.2post1").starts_with(v("3.6.2")));
    CHECK(v("3.6.2.1").starts_with(v("3.6.2")));
    CHECK(v("3.6.2").starts_with(v("3.6.2")));
    CHECK_FALSE(v("3.6.20").starts_with(v("3.6.2")));
    CHECK_FALSE(v("3.7.2").starts_with(v("3.6.2")));
    CHECK(v("1.7").starts_with(v("1")));
    CHECK_FALSE(v("10.7").starts_with(v("1")));
    CHECK(v("1.0a1").starts_with(v("1.0a")));
    CHECK_FALSE(v("1!1.7").starts_with(v("1.7")));
}

TEST_CASE("version parse: round trip and errors") {
    for (const char* s : {"1.2.3", "1!2.0", "1.0rc1", "1.0.post1", "1.0+local.7", "2024.1.1",
                          "0.5-5", "1.0.1_", "1.0RC1"}) {
        Version parsed = Version::parse(s);
        CHECK(parsed.to_string() == s);
        CHECK(Version::parse(parsed.to_string()) == parsed);
    }
    CHECK(v("1.0RC1").normalized() == "1.0rc1");
    CHECK(v("1!2.0").epoch() == 1);
    for (const char* bad : {"", "  ", "1.0$", "a!1.0", "1!2!3", "1+2+3", "+1", "1..2", "1.0-1_2"}) {
        INFO(bad);
        CHECK_THROWS_AS(Version::parse(bad), envpack::Error);
        Version out;
        CHECK_FALSE(Version::try_parse(bad, out));
    }
    try {
        Version::parse("1.0$");
        FAIL("no throw");
    } catch (const envpack::Error& e) {
        CHECK(std::string(e.what()).find("1.0$") != std::string::npos);
        CHECK(e.code() == envpack::ExitCode::bad_input);
    }
}

TEST_CASE("Version: plain numeric versions order as zero-padded integer tuples", "[version]") {
    // Short plain versions take a one-integer comparison; others (five segments, numbers over
    // 65535) the full one. Both must agree with the tuple order, across the boundary too.
    std::uint64_t s = 12345;
    auto below = [&](std::uint32_t n) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::uint32_t>(s >> 33) % n;
    };
    auto random_version = [&](std::vector<std::uint64_t>& parts) {
        parts.clear();
        std::size_t n = 1 + below(5);
        std::string text;
        for (std::size_t i = 0; i < n; ++i) {
            std::uint64_t v = below(4) == 0 ? 65530 + below(10) : below(4);
            parts.push_back(v);
            text += (i ? "." : "") + std::to_string(v);
        }
        return text;
    };
    for (int i = 0; i < 20000; ++i) {
        std::vector<std::uint64_t> pa;
        std::vector<std::uint64_t> pb;
        std::string a = random_version(pa);
        std::string b = random_version(pb);
        pa.resize(5, 0);
        pb.resize(5, 0);
        INFO(a << " vs " << b);
        REQUIRE((Version::parse(a) <=> Version::parse(b)) == (pa <=> pb));
    }
}
