// VersionSpec against the rest of conda's tests/models/test_version.py: regular expressions,
// `.*` after operators, `~=`, precedence, and the specs conda rejects.
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

TEST_CASE("version spec: conda's regex rows against 1.7.1") {
    struct Case {
        const char* spec;
        bool expected;
    };
    // conda's test_match, the rows the plain table leaves out.
    const Case cases[] = {
        {"^1.7.1$", true},
        {R"(^1\.7\.1$)", true},
        {R"(^1\.7\.[0-9]+$)", true},
        {R"(^1\.8.*$)", false},
        {R"(^1\.[5-8]\.1$)", true},
        {R"(^[^1].*$)", false},
        {R"(^[0-9+]+\.[0-9+]+\.[0-9]+$)", true},
        {"^$", false},
        {"^.*$", true},
        {"1.7.*|^0.*$", true},
        {"1.6.*|^0.*$", false},
        {"1.6.*|^0.*$|1.7.1", true},
        {"^0.*$|1.7.1", true},
        {R"(1.6.*|^.*\.7\.1$|0.7.1)", true},
        // A regex may hold `|`, `,` and parentheses: it runs to the first `$`.
        {R"(^1\.7\.(0|1)$)", true},
        {R"(^1\.7\.(0|2)$)", false},
        {R"(^1\.[0-9]{1,2}\.1$,>=1.7)", true},
        {R"(^1\.[0-9]{1,2}\.1$,<1.7)", false},
    };
    for (const auto& c : cases) {
        INFO(c.spec);
        auto spec = VersionSpec::parse(c.spec);
        CHECK(spec.matches(Version::parse("1.7.1")) == c.expected);
        CHECK(VersionSpec::parse(spec.to_string()).to_string() == spec.to_string());
    }
    // The whole version string as written: no normalisation, case kept (as Python's re.match).
    CHECK(match("^1.7$", "1.7"));
    CHECK_FALSE(match("^1.7$", "1.7.0"));
    CHECK(match("^1.7.*$", "1.70"));
    CHECK_FALSE(match("^1.7rc1$", "1.7RC1"));
    CHECK(VersionSpec::parse(R"(^1\.7\.(0|1)$)").op() == VersionSpec::Op::regex);
}

TEST_CASE("version spec: conda's .* after operators") {
    std::vector<std::string> warnings;
    auto ge = VersionSpec::try_parse(">=2.*", &warnings);
    REQUIRE(ge);
    CHECK(ge->to_string() == ">=2");
    CHECK(warnings.empty());
    CHECK(match(">=2.*", "2.0"));
    CHECK(match(">=2.*", "3"));
    CHECK_FALSE(match(">=2.*", "1.9"));
    CHECK(match("=1.7.*", "1.7.3"));
    // != with .* excludes a prefix (conda's test_not_eq_star).
    CHECK_FALSE(match("!=3.3.*", "3.3.1"));
    CHECK(match("!=3.3.*", "3.4"));
    CHECK(match("!=3.3.*", "3.4.1"));
    CHECK(match("!=3.3", "3.3.1"));
    CHECK_FALSE(match("!=3.3", "3.3.0.0"));
    CHECK_FALSE(match("!=3.3.*", "3.3.0.0"));
    CHECK(match("=3.3", "3.3.1"));
    CHECK(match("=3.3", "3.3"));
    CHECK_FALSE(match("=3.3", "3.4"));
    // `<2.*`: conda drops the `.*` with a deprecation warning; so does envpack.
    warnings.clear();
    auto lt = VersionSpec::try_parse("<2.*", &warnings);
    REQUIRE(lt);
    CHECK(lt->to_string() == "<2");
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("ignored") != std::string::npos);
    CHECK(match("<2.*", "1.9"));
    CHECK_FALSE(match("<2.*", "2.0"));
    CHECK(match(">1.7.*", "1.8"));
    CHECK(match("<=1.7.*", "1.7"));
    // `==1.7.*` is the prefix 1.7.* (CEP 29, libmamba); a warning names conda classic's reading.
    warnings.clear();
    auto eq = VersionSpec::try_parse("==1.7.*", &warnings);
    REQUIRE(eq);
    CHECK(eq->to_string() == "1.7.*");
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("==1.7") != std::string::npos);
    CHECK(match("==1.7.*", "1.7.4"));
    CHECK_FALSE(match("==1.7.*", "1.8"));
}

TEST_CASE("version spec: conda's compound and compatible-release cases") {
    auto vs = VersionSpec::parse(">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*");
    CHECK_FALSE(vs.matches(Version::parse("2.6.8")));
    CHECK(vs.matches(Version::parse("2.7.2")));
    CHECK_FALSE(vs.matches(Version::parse("3.3")));
    CHECK_FALSE(vs.matches(Version::parse("3.3.4")));
    CHECK(vs.matches(Version::parse("3.4")));
    CHECK(vs.matches(Version::parse("3.4a")));

    CHECK(match("~=1.10", "1.11.0"));
    CHECK_FALSE(match("~=1.10.0", "1.11.0"));
    CHECK_FALSE(match("~=3.3.2", "3.4.0"));
    CHECK_FALSE(match("~=3.3.2", "3.3.1"));
    CHECK(match("~=3.3.2", "3.3.2.0"));
    CHECK(match("~=3.3.2", "3.3.3"));
    CHECK(match("~=3.3.2|==2.2", "2.2.0"));
    CHECK(match("~=3.3.2|==2.2", "3.3.3"));
    CHECK_FALSE(match("~=3.3.2|==2.2", "2.2.1"));

    // `,` binds tighter than `|`; groups nest (conda's treeify examples).
    auto nested = VersionSpec::parse("( (1.5|((1.6|1.7), 1.8), 1.9 |2.0))|2.1");
    CHECK(nested.matches(Version::parse("1.5")));
    CHECK(nested.matches(Version::parse("2.1")));
    CHECK(nested.matches(Version::parse("2.0")));
    CHECK_FALSE(nested.matches(Version::parse("1.6")));  // (1.6|1.7),1.8,1.9 holds for nothing
    CHECK(VersionSpec::parse(nested.to_string()).to_string() == nested.to_string());
    CHECK(match("1.5|(1.6|1.7),1.8,1.9|2.0|2.1", "2.0"));

    // Prefix forms are equal whichever way they are written (test_version_spec_3/4).
    CHECK(VersionSpec::parse("1.7.1*").to_string() == VersionSpec::parse("1.7.1.*").to_string());
    CHECK(VersionSpec::parse("1.7.1*,1.8.1*").to_string() ==
          VersionSpec::parse("1.7.1.*,1.8.1.*").to_string());
    CHECK(VersionSpec::parse("1.7.1").is_exact());
    CHECK_FALSE(VersionSpec::parse("1.7.1*").is_exact());
}

TEST_CASE("version spec: specs conda rejects, with a message and an offset") {
    struct Case {
        const char* spec;
        const char* message;  // a part of the message
        size_t offset;
    };
    const Case cases[] = {
        {"(1.5", "missing `)`", 0},
        {"1.5)", "unexpected `)`", 3},
        {"1.5||1.6", "empty constraint", 4},
        {"^1.5", "must start with `^` and end with `$`", 0},
        {"1.5$", "must start with `^` and end with `$`", 0},
        {"~", "invalid", 0},
        {"^", "must start with `^` and end with `$`", 0},
        {"===3.3.2", "invalid operator", 0},
        {"><2.4.5", "invalid operator", 0},
        {"!!2.4.5", "invalid operator", 0},
        {"!", "invalid operator", 0},
        {"~=3.3.2.*", "`~=` cannot be combined with `.*`", 0},
        {">=1,^1.(7$", "invalid regular expression", 4},
        {"^(?P<major>1)\\..*$", "Python-only named groups", 1},
        {"^(?<=1).*$", "Python-only look-behind", 1},
        {"^(?i)1.7$", "inline flags", 1},
        {"1.7,+1", "invalid version", 4},
    };
    for (const auto& c : cases) {
        INFO(c.spec);
        auto parsed = VersionSpec::try_parse(c.spec);
        REQUIRE_FALSE(parsed);
        CHECK_THAT(parsed.error().message, Catch::Contains(c.message));
        CHECK(parsed.error().offset == c.offset);
        try {
            VersionSpec::parse(c.spec);
            FAIL("accepted");
        } catch (const envpack::Error& e) {
            CHECK(e.code() == envpack::ExitCode::bad_input);
            CHECK_THAT(e.what(), Catch::Contains(c.spec));
        }
    }
}
