#include <catch2/catch.hpp>

#include "core/compress.h"
#include "core/error.h"
#include "core/zip.h"
#include "zip_writer.h"

using namespace envpack;
using envpack::testing::make_zip;
using envpack::testing::ZipEntry;

namespace {

std::string big_text() {
    std::string s;
    for (int i = 0; i < 200000; ++i) {
        s += "line " + std::to_string(i % 977) + "\n";
    }
    return s;
}

}  // namespace

TEST_CASE("zip: members, modes and data, stored and deflated") {
    const std::string text = big_text();
    std::string bytes = make_zip({{"pkg/", "", 040755, false},
                                  {"pkg/a.py", "print('a')\n", 0100644, false},
                                  {"pkg/tool", text, 0100755, true},
                                  {"empty", "", 0100644, true}});
    ZipReader zip(zip_memory_source(bytes), "test.zip");
    REQUIRE(zip.members().size() == 4);
    CHECK(zip.members()[0].is_directory());
    const ZipMember* a = zip.find("pkg/a.py");
    REQUIRE(a != nullptr);
    CHECK(zip.read(*a) == "print('a')\n");
    CHECK((a->unix_mode() & 0777) == 0644);
    const ZipMember* tool = zip.find("pkg/tool");
    REQUIRE(tool != nullptr);
    CHECK(tool->method == 8);
    CHECK((tool->unix_mode() & 0111) != 0);
    CHECK(zip.read(*tool) == text);  // more than one 1 MiB output chunk
    CHECK(zip.read(*zip.find("empty")).empty());
    CHECK(zip.find("missing") == nullptr);
}

TEST_CASE("zip: a damaged member is refused (CRC, truncation), not returned") {
    std::string bytes = make_zip({{"a.txt", "hello world", 0100644, false}});
    auto pos = bytes.find("hello world");
    bytes[pos] = 'J';
    ZipReader zip(zip_memory_source(bytes), "bad.zip");
    try {
        (void)zip.read(*zip.find("a.txt"));
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::protocol);
        CHECK_THAT(e.what(), Catch::Contains("CRC-32") && Catch::Contains("a.txt") &&
                                 Catch::Contains("bad.zip"));
    }
}

TEST_CASE("zip: not an archive, or cut short") {
    CHECK_THROWS_WITH(ZipReader(zip_memory_source("hello, this is not a zip file at all"), "x.whl"),
                      Catch::Contains("no end of central directory") && Catch::Contains("x.whl"));
    CHECK_THROWS_AS(ZipReader(zip_memory_source("PK"), "tiny.whl"), Error);
    std::string bytes = make_zip({{"a.txt", std::string(1000, 'a'), 0100644, true}});
    // Cut the central directory in half but keep a valid-looking end record.
    std::string cut = bytes.substr(0, 40) + bytes.substr(bytes.size() - 22);
    CHECK_THROWS_AS(ZipReader(zip_memory_source(cut), "cut.whl"), Error);
}

TEST_CASE("zip: a member larger than the in-memory limit is refused") {
    std::string bytes = make_zip({{"a.txt", std::string(5000, 'a'), 0100644, true}});
    ZipReader zip(zip_memory_source(bytes), "z.zip");
    CHECK_THROWS_WITH(zip.read(*zip.find("a.txt"), 100), Catch::Contains("5000 bytes"));
}
