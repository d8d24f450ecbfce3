// PEP 508 requirements and markers, PEP 503 names, and the target-image environment.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/error.h"
#include "resolver/pep508.h"

using envpack::pep440::Version;
using envpack::pep508::Environment;
using envpack::pep508::Marker;
using envpack::pep508::Requirement;

namespace {

Environment image(const char* python = "3.11.4", const char* platform = "linux-64") {
    return Environment::for_target(Version::parse(python), platform);
}

}  // namespace

TEST_CASE("pep508: PEP 503 name normalisation") {
    CHECK(envpack::pep508::normalize_name("Django") == "django");
    CHECK(envpack::pep508::normalize_name("zope.interface") == "zope-interface");
    CHECK(envpack::pep508::normalize_name("typing__extensions") == "typing-extensions");
    CHECK(envpack::pep508::normalize_name("A-_.-B") == "a-b");
    CHECK(envpack::pep508::is_valid_name("A.b-c_d1"));
    CHECK_FALSE(envpack::pep508::is_valid_name("-a"));
    CHECK_FALSE(envpack::pep508::is_valid_name("a-"));
    CHECK_FALSE(envpack::pep508::is_valid_name("a b"));
}

TEST_CASE("pep508: requirements parse into their parts and print as packaging does") {
    auto r =
        Requirement::parse(" requests [socks, security] >=2.8.1, ==2.8.* ; python_version < '2.7'");
    CHECK(r.name == "requests");
    CHECK(r.extras == std::vector<std::string>{"socks", "security"});
    CHECK(r.specifier.to_string() == "==2.8.*,>=2.8.1");
    CHECK(r.url.empty());
    REQUIRE(r.marker);
    CHECK(r.to_string() == "requests[security,socks]==2.8.*,>=2.8.1; python_version < \"2.7\"");
    CHECK(Requirement::parse(r.to_string()).to_string() == r.to_string());

    auto u = Requirement::parse(
        "pip @ https://example.com/pip-23.0-py3-none-any.whl ; os_name == 'posix'");
    CHECK(u.url == "https://example.com/pip-23.0-py3-none-any.whl");
    CHECK(u.specifier.empty());
    CHECK(u.to_string() ==
          "pip@ https://example.com/pip-23.0-py3-none-any.whl ; os_name == \"posix\"");
    CHECK(Requirement::parse("name @ file:///tmp/x.whl").url == "file:///tmp/x.whl");
    CHECK(Requirement::parse("name (>=1.0, <2)").specifier.to_string() == "<2,>=1.0");
    CHECK(Requirement::parse("Zope.Interface").normalized_name() == "zope-interface");
    // An `===` operand runs to whitespace, commas included (packaging's tokenizer).
    CHECK(Requirement::parse("a===1.0,<2").specifier.to_string() == "<2,===1.0");
}

TEST_CASE("pep508: syntax errors carry an offset and a caret") {
    struct Row {
        const char* text;
        size_t offset;
    };
    const Row rows[] = {
        {"", 0},
        {"-foo", 0},
        {"foo[bar baz]", 8},
        {"foo >=", 4},
        {"foo >=1.0 extra", 10},
        {"foo @ notaurl", 6},
        {"foo; os_name = 'a'", 13},
        {"foo; os_name == 'a' and", 23},
        {"foo (>=1.0", 10},
        {"foo; platform_release >= \"5\" garbage", 29},
        {"foo; os_name == python_version", 5},
        {"foo; 'a' == 'b'", 5},
    };
    for (const auto& row : rows) {
        INFO(row.text);
        auto r = Requirement::try_parse(row.text);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().offset == row.offset);
    }
    try {
        Requirement::parse("foo >=1.0 extra");
        FAIL("no error");
    } catch (const envpack::Error& e) {
        const std::string what = e.what();
        CHECK(what.find("Expected end or semicolon") != std::string::npos);
        CHECK(what.find("\n    foo >=1.0 extra\n              ^") != std::string::npos);
        CHECK(e.code() == envpack::ExitCode::bad_input);
    }
}

TEST_CASE("pep508: the target image's environment") {
    auto env = image("3.11.4", "linux-64");
    CHECK(env.python_version == "3.11");
    CHECK(env.python_full_version == "3.11.4");
    CHECK(env.implementation_name == "cpython");
    CHECK(env.platform_python_implementation == "CPython");
    CHECK(env.implementation_version == "3.11.4");
    CHECK(env.sys_platform == "linux");
    CHECK(env.os_name == "posix");
    CHECK(env.platform_system == "Linux");
    CHECK(env.platform_machine == "x86_64");
    CHECK(image("3.10.12", "linux-aarch64").platform_machine == "aarch64");
    CHECK(image("3.10.12", "linux-ppc64le").platform_machine == "ppc64le");
    CHECK_FALSE(env.platform_release.has_value());
    CHECK_THROWS_AS(image("3.11.4", "osx-arm64"), envpack::Error);
    CHECK_THROWS_AS(image("3", "linux-64"), envpack::Error);
}

TEST_CASE("pep508: marker evaluation") {
    const auto env = image("3.11.4", "linux-64");
    struct Row {
        const char* marker;
        const char* extra;
        bool expected;
    };
    const Row rows[] = {
        {"python_version >= '3.8'", "", true},
        {"python_version < '3.10'", "", false},
        {"python_version > '3.9.1'", "", true},  // a version comparison, not text
        {"'3.10' < python_version", "", true},   // the variable on the right
        {"python_full_version >= '3.11.4rc1'", "", true},
        {"python_version == '3.11.*'", "", true},
        {"python_version ~= '3.8'", "", true},
        {"sys_platform == 'linux'", "", true},
        {"sys_platform == 'win32' or os_name == 'posix'", "", true},
        {"'linux' in sys_platform", "", true},
        {"'lin' not in sys_platform", "", false},
        {"platform_machine == 'x86_64' and platform_system == 'Linux'", "", true},
        {"platform_machine != 'aarch64'", "", true},
        {"implementation_name == 'cpython'", "", true},
        {"platform_python_implementation == 'PyPy'", "", false},
        {"python_implementation == 'CPython'", "", true},  // the old spelling
        {"os.name == 'posix'", "", true},
        // `and` binds tighter than `or`.
        {"os_name == 'nt' and python_version < '3' or sys_platform == 'linux'", "", true},
        {"sys_platform == 'linux' or os_name == 'nt' and python_version < '3'", "", true},
        {"(sys_platform == 'linux' or os_name == 'nt') and python_version < '3'", "", false},
        // extra, compared as PEP 503 names.
        {"extra == 'test'", "test", true},
        {"extra == 'test'", "", false},
        {"extra == 'Test_Extra'", "test-extra", true},
        {"extra == 'test-extra'", "Test.Extra", true},
        {"extra == '1'", "", false},  // names, never versions
    };
    for (const auto& row : rows) {
        INFO(row.marker << " extra=" << row.extra);
        CHECK(Marker::parse(row.marker).evaluate(env, row.extra) == row.expected);
    }
    CHECK(Marker::parse("python_version >= \"3.12\"").evaluate(image("3.12.0", "linux-64")));
    CHECK_FALSE(Marker::parse("python_version >= \"3.12\"").evaluate(image("3.8.10", "linux-64")));
}

TEST_CASE("pep508: markers the image cannot answer are errors that name the variable") {
    const auto env = image();
    for (const char* text : {"platform_release >= '5.0'", "platform_version == '#1 SMP'",
                             "os_name == 'nt' and platform_release >= '5.0'"}) {
        INFO(text);
        try {
            Marker::parse(text).evaluate(env);
            FAIL("no error");
        } catch (const envpack::Error& e) {
            CHECK(std::string(e.what()).find("platform_") != std::string::npos);
            CHECK(e.code() == envpack::ExitCode::bad_input);
        }
    }
    auto known = env;
    known.platform_release = "6.1.0";
    CHECK(Marker::parse("platform_release >= '5.0'").evaluate(known));
    // Undefined comparisons, as packaging raises them.
    CHECK_THROWS_AS(Marker::parse("sys_platform ~= 'linux'").evaluate(env), envpack::Error);
    CHECK_THROWS_AS(Marker::parse("sys_platform >= '1.0'").evaluate(env), envpack::Error);
}

TEST_CASE("pep508: marker printing keeps the grouping packaging keeps") {
    CHECK(Marker::parse("python_version>'3'and(os.name=='posix' or extra=='Te_st')").to_string() ==
          "python_version > \"3\" and (os_name == \"posix\" or extra == \"te-st\")");
    CHECK(Marker::parse("(os_name == 'posix')").to_string() == "os_name == \"posix\"");
    CHECK(Marker::parse("'3' <= python_version").to_string() == "\"3\" <= python_version");
}

TEST_CASE("pep508: a requirement applies by its marker and the requested extras") {
    const auto env = image();
    CHECK(Requirement::parse("a").applies(env));
    CHECK(Requirement::parse("a; python_version >= '3.8'").applies(env));
    CHECK_FALSE(Requirement::parse("a; python_version < '3.8'").applies(env));
    auto test_only = Requirement::parse("pytest; extra == 'test'");
    CHECK_FALSE(test_only.applies(env));
    CHECK(test_only.applies(env, {"docs", "test"}));
    CHECK_FALSE(test_only.applies(env, {"docs"}));
}
