// PEP 440 versions and specifiers: the specification's examples and packaging's documented
// cases. The large generated comparison with packaging itself is
// tests/integration/pip_packaging_oracle.sh.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/error.h"
#include "resolver/pep440.h"

using envpack::pep440::PreReleases;
using envpack::pep440::Specifier;
using envpack::pep440::SpecifierSet;
using envpack::pep440::Version;

namespace {

Version v(const char* s) {
    return Version::parse(s);
}

}  // namespace

TEST_CASE("pep440: normalisation follows the specification's spellings") {
    struct Row {
        const char* in;
        const char* out;
    };
    const Row rows[] = {
        {"1.0", "1.0"},
        {"  1.0\n", "1.0"},
        {"v1.0", "1.0"},
        {"V1.0", "1.0"},
        {"01.002", "1.2"},
        {"0!1.0", "1.0"},
        {"1!1.0", "1!1.0"},
        {"1.0a", "1.0a0"},
        {"1.0ALPHA1", "1.0a1"},
        {"1.0-a1", "1.0a1"},
        {"1.0_a_1", "1.0a1"},
        {"1.0.b2", "1.0b2"},
        {"1.0beta2", "1.0b2"},
        {"1.0c3", "1.0rc3"},
        {"1.0pre4", "1.0rc4"},
        {"1.0preview5", "1.0rc5"},
        {"1.0-r", "1.0.post0"},
        {"1.0rev4", "1.0.post4"},
        {"1.0-1", "1.0.post1"},
        {"1.0_post_2", "1.0.post2"},
        {"1.0.dev", "1.0.dev0"},
        {"1.0-DEV3", "1.0.dev3"},
        {"1.0a.-dev", "1.0a0.dev0"},  // a bare label keeps its own separator
        {"1.0a.-1", "1.0a0.post1"},
        {"1.0b.", "1.0b0"},
        {"1.0-dev-", "1.0.dev0"},
        {"1.0a-1", "1.0a1"},
        {"1.0+ubuntu-1", "1.0+ubuntu.1"},
        {"1.0+AbC_01", "1.0+abc.1"},
        {"1!2.0rc1.post3.dev4+x.5", "1!2.0rc1.post3.dev4+x.5"},
    };
    for (const auto& row : rows) {
        INFO(row.in);
        Version parsed = v(row.in);
        CHECK(parsed.to_string() == row.out);
        CHECK(Version::parse(parsed.to_string()) == parsed);               // round trip
        CHECK(Version::parse(parsed.to_string()).to_string() == row.out);  // fixed point
    }
}

TEST_CASE("pep440: invalid versions are refused with the text quoted") {
    for (const char* bad :
         {"", "foo", "1.0.", "1..0", "1.0+", "1.0+a..b", "1.0-", "!1", "1!", "1.0a1a1",
          "1.0post1post2", "1.0-1-1", "1.0 foo", "1.0..dev", "99999999999999999999"}) {
        INFO(bad);
        CHECK_FALSE(Version::try_parse(bad).has_value());
        CHECK_THROWS_AS(Version::parse(bad), envpack::Error);
    }
    try {
        Version::parse("1.0foo");
        FAIL("no error");
    } catch (const envpack::Error& e) {
        CHECK(std::string(e.what()).find("`1.0foo`") != std::string::npos);
        CHECK(e.code() == envpack::ExitCode::bad_input);
    }
}

TEST_CASE("pep440: the ordering of PEP 440's example list and packaging's sorted list") {
    // Each strictly below the next.
    const std::vector<const char*> sorted = {"1.0.dev456",
                                             "1.0a1",
                                             "1.0a2.dev456",
                                             "1.0a12.dev456",
                                             "1.0a12",
                                             "1.0b1.dev456",
                                             "1.0b2",
                                             "1.0b2.post345.dev456",
                                             "1.0b2.post345",
                                             "1.0b2-346",
                                             "1.0c1.dev456",
                                             "1.0c1",
                                             "1.0rc2",
                                             "1.0c3",
                                             "1.0",
                                             "1.0.post456.dev34",
                                             "1.0.post456",
                                             "1.1.dev1",
                                             "1.2+123abc",
                                             "1.2+123abc456",
                                             "1.2+abc",
                                             "1.2+abc123",
                                             "1.2+abc123def",
                                             "1.2+1234.abc",
                                             "1.2+123456",
                                             "1.2.r32+123456",
                                             "1.2.rev33+123456",
                                             "1!1.0b2.post345.dev456",
                                             "1!1.0",
                                             "1!1.2.rev33+123456"};
    for (size_t i = 0; i + 1 < sorted.size(); ++i) {
        INFO(sorted[i] << " < " << sorted[i + 1]);
        CHECK(v(sorted[i]) < v(sorted[i + 1]));
        CHECK(v(sorted[i + 1]) > v(sorted[i]));
        CHECK(v(sorted[i]) != v(sorted[i + 1]));
    }
    CHECK(v("1.0") == v("1.0.0"));
    CHECK(v("1.0") == v("1.0.0.0"));
    CHECK(v("1.0+01") == v("1.0+1"));
    CHECK(v("1.0+ABC") == v("1.0+abc"));
    CHECK(v("1.0") < v("1.0+local"));
    CHECK(v("1.0+local") < v("1.0.post0"));
    CHECK(v("1.0+abc") < v("1.0+5"));  // a number beats a string
    CHECK(v("1.0+1") < v("1.0+1.0"));  // a longer local label sorts after its prefix
}

TEST_CASE("pep440: release parts, pre/post/dev flags, public and base versions") {
    Version x = v("1!2.3.4rc5.post6.dev7+ubuntu.8");
    CHECK(x.epoch() == 1);
    CHECK(x.release() == std::vector<std::uint64_t>{2, 3, 4});
    REQUIRE(x.pre());
    CHECK(x.pre()->kind == envpack::pep440::PreKind::rc);
    CHECK(x.pre()->number == 5);
    CHECK(x.post() == 6u);
    CHECK(x.dev() == 7u);
    CHECK(x.is_prerelease());
    CHECK(x.is_postrelease());
    CHECK(x.is_devrelease());
    CHECK(x.public_version().to_string() == "1!2.3.4rc5.post6.dev7");
    CHECK(x.base_version().to_string() == "1!2.3.4");
    CHECK(v("1.0.dev1").is_prerelease());  // a dev release counts as a pre-release
    CHECK_FALSE(v("1.0.post1").is_prerelease());
}

TEST_CASE("pep440: specifier operators (PEP 440's examples and packaging's cases)") {
    struct Row {
        const char* version;
        const char* spec;
        bool expected;
    };
    const Row rows[] = {
        // == and local versions: a specifier without a local label ignores the candidate's.
        {"2.0", "==2", true},
        {"2.0", "==2.0", true},
        {"2.0", "==2.0.0", true},
        {"2.0+deadbeef", "==2", true},
        {"2.0+deadbeef", "==2.0+deadbeef", true},
        {"2.0+deadbeef.0", "==2.0.0+deadbeef.00", true},
        {"2.0", "==2.0+deadbeef", false},
        {"2.0+deadbeef", "==2.0+other", false},
        // Prefix matching, zero padded.
        {"2.0", "==2.*", true},
        {"2.0.0", "==2.0.*", true},
        {"2", "==2.0.0.*", true},
        {"2.0.post1", "==2.0.*", true},
        {"2.0+deadbeef", "==2.0.*", true},
        {"2.1", "==2.0.*", false},
        {"20.0", "==2.*", false},
        {"1!2.0", "==2.*", false},
        {"2.1", "!=2.0.*", true},
        {"2.0.5", "!=2.0.*", false},
        // Ordered comparisons use the public version.
        {"2.0+local", "<=2.0", true},
        {"2.0+local", ">=2.0", true},
        {"1.9", "<2", true},
        {"2.0", "<2", false},
        // < excludes the operand's own pre-releases unless it names one.
        {"2.0rc1", "<2.0", false},
        {"1.9rc1", "<2.0", true},
        {"2.0a1", "<2.0rc1", true},
        // > excludes the operand's post and local releases unless it names a post-release.
        {"2.0.post1", ">2", false},
        {"2.0.post2", ">2.0.post1", true},
        {"2.0+local", ">2.0", false},
        {"2.0.1", ">2", true},
        // ~= (compatible release).
        {"2.2", "~=2.2", true},
        {"2.5", "~=2.2", true},
        {"3.0", "~=2.2", false},
        {"2.2.5", "~=2.2.0", true},
        {"2.3", "~=2.2.0", false},
        {"1.4.5", "~=1.4.5a4", true},
        {"1.5", "~=1.4.5a4", false},
        {"2.2.post3", "~=2.2.post3", true},
        {"2.3", "~=2.2.post3", true},
        {"3.0", "~=2.2.post3", false},
        {"1!1.5", "~=1!1.2", true},
        {"1.5", "~=1!1.2", false},
        // === is a case-insensitive comparison of the normal form's text.
        {"1.0", "===1.0", true},
        {"1.0.0", "===1.0", false},
        {"v1.0", "===1.0", true},
    };
    for (const auto& row : rows) {
        INFO(row.version << " in " << row.spec);
        CHECK(Specifier::parse(row.spec).contains(v(row.version), PreReleases::allow) ==
              row.expected);
    }
}

TEST_CASE("pep440: pip's pre-release rule") {
    // Excluded by default...
    CHECK_FALSE(SpecifierSet::parse(">=1.0").contains(v("2.0a1")));
    CHECK(SpecifierSet::parse(">=1.0").contains(v("2.0a1"), PreReleases::allow));
    CHECK_FALSE(SpecifierSet::parse("").contains(v("2.0.dev1")));
    // ...unless a clause names a pre-release itself (inclusive operators only).
    CHECK(SpecifierSet::parse(">=1.0b1").contains(v("2.0a1")));
    CHECK(SpecifierSet::parse(">=1.0b1,<3").contains(v("2.0a1")));
    CHECK(SpecifierSet::parse("==2.0.dev1").contains(v("2.0.dev1")));
    CHECK_FALSE(SpecifierSet::parse("!=1.0b1").contains(v("2.0a1")));
    CHECK_FALSE(SpecifierSet::parse("<1.0b1").contains(v("0.9a1")));
    CHECK_FALSE(SpecifierSet::parse("==1.0.*").contains(v("1.0a1")));
    CHECK_FALSE(SpecifierSet::parse(">=1.0").contains(v("2.0a1"), PreReleases::exclude));

    // filter: pre-releases only when nothing else matches.
    const std::vector<Version> some = {v("1.3"), v("1.5a1"), v("1.4")};
    CHECK(SpecifierSet::parse(">=1.2.3").filter(some) == std::vector<size_t>{0, 2});
    CHECK(SpecifierSet::parse(">=1.2.3").filter(some, PreReleases::allow) ==
          std::vector<size_t>{0, 1, 2});
    const std::vector<Version> only_pre = {v("1.5a1"), v("1.0"), v("1.6b2")};
    CHECK(SpecifierSet::parse(">=1.2.3").filter(only_pre) == std::vector<size_t>{0, 2});
    CHECK(SpecifierSet::parse(">=1.2.3,<2").filter(only_pre) == std::vector<size_t>{0, 2});
    CHECK(SpecifierSet::parse(">=1.2.3").filter(only_pre, PreReleases::exclude).empty());
    CHECK(SpecifierSet::parse("").filter(only_pre) == std::vector<size_t>{1});
    CHECK(SpecifierSet::parse(">=3").filter(only_pre).empty());
}

TEST_CASE("pep440: specifier syntax") {
    CHECK(Specifier::parse(" >= 1.0 ").to_string() == ">=1.0");
    CHECK(Specifier::parse("==1.0.*").is_wildcard());
    CHECK(SpecifierSet::parse(">=1.0, !=1.5,<2").to_string() == "!=1.5,<2,>=1.0");
    CHECK(SpecifierSet::parse("").empty());
    CHECK(SpecifierSet::parse(">=1,>=1").specifiers().size() == 1);
    CHECK((SpecifierSet::parse(">=1") & SpecifierSet::parse("<2")).to_string() == "<2,>=1");
    for (const char* bad : {"1.0", "=>1.0", "~=1", "~=1.0+local", ">=1.0+local", "==1.0a1.*",
                            ">=1.*", "~=1.*", "==", ">=1.0 extra", "==1.0+", "!=1.0.*+x"}) {
        INFO(bad);
        CHECK_FALSE(Specifier::try_parse(bad).has_value());
        CHECK_THROWS_AS(SpecifierSet::parse(bad), envpack::Error);
    }
    try {
        SpecifierSet::parse(">=1.0,~=2");
        FAIL("no error");
    } catch (const envpack::Error& e) {
        CHECK(std::string(e.what()).find("~=2") != std::string::npos);
        CHECK(std::string(e.what()).find("two release numbers") != std::string::npos);
    }
}
