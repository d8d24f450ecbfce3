// VersionSpec against conda's documented matching rules and conda's own VersionSpec test table.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "resolver/version_spec.h"

using envpack::Version;
using envpack::VersionSpec;

namespace {
bool match(const char* spec, const char* version) {
    return VersionSpec::parse(spec).matches(Version::parse(version));
}
}  // namespace

TEST_CASE("version spec: conda's match table against 1.7.1") {
    // From conda's tests/models/test_version.py (test_match), regex rows left out.
    struct Case {
        const char* spec;
        bool expected;
    };
    const Case cases[] = {
        {"1.7.*", true},
        {"1.7.1", true},
        {"1.7.0", false},
        {"1.7", false},
        {"1.5.*", false},
        {">=1.5", true},
        {"!=1.5", true},
        {"!=1.7.1", false},
        {"==1.7.1", true},
        {"==1.7", false},
        {"==1.7.2", false},
        {"==1.7.1.0", true},
        {"1.7.*|1.8.*", true},
        {">1.7,<1.8", true},
        {">1.7.1,<1.8", false},
        {"*", true},
        {"1.*.1", true},
        {"1.5.*|>1.7,<1.8", true},
        {"1.5.*|>1.7,<1.7.1", false},
    };
    for (const auto& c : cases) {
        INFO(c.spec);
        CHECK(match(c.spec, "1.7.1") == c.expected);
    }
}

TEST_CASE("version spec: conda's documented constraint types") {
    // docs.conda.io "Package match specifications": fuzzy, exact, >=, OR, AND.
    CHECK(match("=1.11", "1.11.0"));
    CHECK(match("=1.11", "1.11.18"));
    CHECK_FALSE(match("=1.11", "1.110"));
    CHECK(match("==1.11", "1.11.0"));
    CHECK_FALSE(match("==1.11", "1.11.1"));
    CHECK(match(">=1.11", "1.11.0"));
    CHECK(match(">=1.11", "2.0"));
    CHECK_FALSE(match(">=1.11", "1.10.9"));
    CHECK(match("1.11.1|1.11.3", "1.11.3"));
    CHECK_FALSE(match("1.11.1|1.11.3", "1.11.2"));
    CHECK(match(">=1.8,<2", "1.9"));
    CHECK_FALSE(match(">=1.8,<2", "2.0"));
    // NOTES.md: `<2` admits 2.0rc1; prefix 3.6.2 does not admit 3.6.20.
    CHECK(match("<2", "2.0rc1"));
    CHECK(match("3.6.2*", "3.6.2rc1"));
    CHECK_FALSE(match("3.6.2*", "3.6.20"));
    // `,` binds tighter than `|`; parentheses group.
    CHECK(match(">1.8,<2|==1.7", "1.7"));
    CHECK_FALSE(match(">1.8,(<2|==1.7)", "1.7"));
    // != with a prefix, ~= compatible release.
    CHECK_FALSE(match("!=1.7.*", "1.7.3"));
    CHECK(match("!=1.7.*", "1.8"));
    CHECK(match("~=1.4.5", "1.4.5"));
    CHECK(match("~=1.4.5", "1.4.9"));
    CHECK_FALSE(match("~=1.4.5", "1.5.0"));
    CHECK_FALSE(match("~=1.4.5", "1.4.4"));
    // `=1.7.*` and `>=1.7.*` are read without the `.*`.
    CHECK(match("=1.7.*", "1.7.2"));
    CHECK(match(">=1.7.*", "1.8"));
    // Whitespace is ignored.
    CHECK(match(">= 1.8 , < 2", "1.9"));
}

TEST_CASE("version spec: canonical strings round-trip") {
    struct Case {
        const char* in;
        const char* canonical;
    };
    const Case cases[] = {
        {"1.7.*", "1.7.*"},
        {"1.7*", "1.7.*"},
        {"=1.7", "1.7.*"},
        {"1.7", "1.7"},
        {"==1.7", "==1.7"},
        {">=1.7,<2", ">=1.7,<2"},
        {"1.7|1.8", "1.7|1.8"},
        {"!=1.7.*", "!=1.7.*"},
        {"~=1.4.5", "~=1.4.5"},
        {"*", "*"},
        {">1.8,<2|==1.7", ">1.8,<2|==1.7"},
        {"(1.7|1.8),!=1.7.3", "(1.7|1.8),!=1.7.3"},
        {"1.*.1", "1.*.1"},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        auto spec = VersionSpec::parse(c.in);
        CHECK(spec.to_string() == c.canonical);
        CHECK(VersionSpec::parse(spec.to_string()).to_string() == c.canonical);
    }
}

TEST_CASE("version spec: malformed specs are bad input naming the spec") {
    for (const char* bad :
         {"", ">=", "=>1.7", "1.7,", "(1.7", "1.7)", "~=1.7.*", ">=1.0$", "^1.7", "<<1"}) {
        INFO(bad);
        try {
            VersionSpec::parse(bad);
            FAIL("accepted");
        } catch (const envpack::Error& e) {
            CHECK(e.code() == envpack::ExitCode::bad_input);
            CHECK(std::string(e.what()).find("version spec") != std::string::npos);
        }
    }
}
