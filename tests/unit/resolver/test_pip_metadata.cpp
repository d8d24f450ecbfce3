// Wheel METADATA and WHEEL files.
#include <catch2/catch.hpp>

#include <string>

#include "core/error.h"
#include "resolver/pip_metadata.h"

using namespace envpack;

TEST_CASE("pip_metadata: core metadata with extras and markers") {
    const char* text =
        "Metadata-Version: 2.1\r\n"
        "Name: Demo_Pkg\n"
        "Version: 1.0.POST1\n"
        "Summary: a demo\n"
        "  continued\n"
        "Requires-Python: >=3.8\n"
        "Requires-Dist: six (>=1.16)\n"
        "requires-dist: pytest ; extra == 'Test'\n"
        "Requires-Dist: tomli ; python_version < \"3.11\"\n"
        "Provides-Extra: test\n"
        "\n"
        "Requires-Dist: not a header, the body\n";
    auto m = pip_metadata::CoreMetadata::parse(text, "demo.dist-info/METADATA");
    CHECK(m.metadata_version == "2.1");
    CHECK(m.name == "Demo_Pkg");
    CHECK(m.version.to_string() == "1.0.post1");
    CHECK(m.requires_python == ">=3.8");
    REQUIRE(m.requires_dist.size() == 3);
    CHECK(m.provides_extra == std::vector<std::string>{"test"});
    auto headers = pip_metadata::parse_headers(text, "x");
    CHECK(headers[3].value == "a demo\ncontinued");

    auto env = pep508::Environment::for_target(pep440::Version::parse("3.11.4"), "linux-64");
    auto plain = m.dependencies(env, {});
    REQUIRE(plain.size() == 1);
    CHECK(plain[0].name == "six");
    CHECK(m.dependencies(env, {"test"}).size() == 2);
    auto old = pep508::Environment::for_target(pep440::Version::parse("3.10.12"), "linux-64");
    CHECK(m.dependencies(old, {}).size() == 2);
}

TEST_CASE("pip_metadata: bad metadata names the file and the line") {
    struct Row {
        const char* text;
        const char* needle;
    };
    const Row rows[] = {
        {"Name: x\nVersion: 1\n", "no `Metadata-Version` header"},
        {"Metadata-Version: 2.1\nName: x\nVersion: one\n", "META:3: `one` is not a PEP 440"},
        {"Metadata-Version: 2.1\nName: x\nVersion: 1\nRequires-Dist: a >=\n", "META:4: invalid"},
        {"Metadata-Version: 2.1\nbroken line\n", "META:2: `broken line`"},
        {" leading\n", "META:1: a continuation line"},
    };
    for (const auto& row : rows) {
        INFO(row.text);
        try {
            pip_metadata::CoreMetadata::parse(row.text, "META");
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(std::string(e.what()).find(row.needle) != std::string::npos);
            CHECK(e.code() == ExitCode::bad_input);
        }
    }
}

TEST_CASE("pip_metadata: WHEEL files") {
    auto w = pip_metadata::WheelInfo::parse(
        "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.40.0)\nRoot-Is-Purelib: True\n"
        "Tag: py3-none-any\n",
        "WHEEL");
    CHECK(w.wheel_version == "1.0");
    CHECK(w.root_is_purelib);
    CHECK(w.tags == std::vector<std::string>{"py3-none-any"});
    CHECK_FALSE(pip_metadata::WheelInfo::parse("Wheel-Version: 1.0\nRoot-Is-Purelib: false\n", "W")
                    .root_is_purelib);
    CHECK_THROWS_AS(pip_metadata::WheelInfo::parse("Wheel-Version: 2.0\n", "W"), Error);
    CHECK_THROWS_AS(pip_metadata::WheelInfo::parse("Generator: x\n", "W"), Error);
}
