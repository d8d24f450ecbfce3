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

namespace {

// The central directory entry of the first member (make_zip writes one per member, in order).
std::size_t central_entry(const std::string& bytes) {
    auto at = bytes.find(std::string("PK\x01\x02", 4));
    REQUIRE(at != std::string::npos);
    return at;
}

void put_u32(std::string& bytes, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        bytes[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
    }
}

enum class Path { whole, streaming };

ZipReader reader(std::string bytes, Path path) {
    ZipReader zip(zip_memory_source(std::move(bytes)), "t.whl");
    if (path == Path::streaming) {
        zip.set_whole_member_limit(0);  // every member goes through zlib's streaming inflate
    }
    return zip;
}

std::string read_error(const ZipReader& zip, const std::string& member) {
    StringSink out;
    try {
        zip.read(*zip.find(member), out);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::protocol);
        CHECK_THAT(e.what(), Catch::Contains(member) && Catch::Contains("t.whl"));
        return e.what();
    }
    FAIL("no error reading " << member);
    return {};
}

}  // namespace

TEST_CASE("zip: one-call (libdeflate) and streaming (zlib) reads agree and check the same") {
    const std::string text = big_text();  // > 1 MiB: several streaming chunks
    for (Path path : {Path::whole, Path::streaming}) {
        INFO((path == Path::whole ? "whole" : "streaming"));
        const std::string good = make_zip({{"d.txt", text, 0100644, true},
                                           {"s.txt", text, 0100644, false},
                                           {"e.txt", "", 0100644, true}});
        {
            ZipReader zip = reader(good, path);
            for (const char* name : {"d.txt", "s.txt"}) {
                StringSink out;
                zip.read(*zip.find(name), out);
                CHECK(out.data() == text);
            }
            StringSink empty;
            zip.read(*zip.find("e.txt"), empty);
            CHECK(empty.data().empty());
        }
        const std::size_t cd = central_entry(good);
        {  // the central directory claims more bytes than the stream holds
            std::string bytes = good;
            put_u32(bytes, cd + 24, static_cast<std::uint32_t>(text.size() + 7));
            CHECK_THAT(read_error(reader(bytes, path), "d.txt"),
                       Catch::Contains(fmt::format("{} bytes where the central directory says {}",
                                                   text.size(), text.size() + 7)));
        }
        {  // ... or fewer
            std::string bytes = good;
            put_u32(bytes, cd + 24, static_cast<std::uint32_t>(text.size() - 7));
            CHECK_THAT(read_error(reader(bytes, path), "d.txt"),
                       Catch::Contains("more data than the central directory says"));
        }
        {  // a wrong CRC-32
            std::string bytes = good;
            put_u32(bytes, cd + 16, 0x12345678);
            CHECK_THAT(read_error(reader(bytes, path), "d.txt"),
                       Catch::Contains("CRC-32 mismatch"));
        }
        {  // damaged deflate data: a block header turned into the reserved block type 3
            std::string bytes = good;
            const std::size_t data = 30 + std::string("d.txt").size();
            bytes[data] = static_cast<char>(0x07);
            CHECK_THAT(read_error(reader(bytes, path), "d.txt"), Catch::Contains("damaged"));
        }
        {  // the deflate stream cut short (its compressed size shrunk)
            std::string bytes = good;
            const std::uint32_t packed = static_cast<unsigned char>(bytes[cd + 20]) |
                                         static_cast<unsigned char>(bytes[cd + 21]) << 8 |
                                         static_cast<unsigned char>(bytes[cd + 22]) << 16 |
                                         static_cast<unsigned char>(bytes[cd + 23]) << 24;
            put_u32(bytes, cd + 20, packed / 2);
            CHECK_THAT(read_error(reader(bytes, path), "d.txt"),
                       Catch::Contains("damaged") || Catch::Contains("ends early"));
        }
    }
}

TEST_CASE(
    "zip: one-call reads of members of growing, then shrinking sizes reuse or regrow buffers") {
    auto pattern = [](std::size_t n, char seed) {
        std::string s(n, '\0');
        for (std::size_t i = 0; i < n; ++i) {
            s[i] = static_cast<char>(seed + (i * 7 + i / 4096) % 61);
        }
        return s;
    };
    const std::vector<ZipEntry> entries = {
        {"a", pattern(1000, 'a'), 0100644, true},
        {"b", pattern(3u << 20, 'b'), 0100644, true},         // past the first 2 MiB buffer
        {"c", pattern(5u << 20, 'c'), 0100644, true},         // past the doubled one
        {"d", pattern(33u << 20, 'd'), 0100644, false},       // stored, past what a thread keeps
        {"e", pattern(5000, 'e'), 0100644, true},             // small again
        {"f", pattern((3u << 20) + 1, 'f'), 0100644, true}};  // regrown after the release
    ZipReader zip(zip_memory_source(make_zip(entries)), "sizes.whl");
    for (const auto& e : entries) {
        INFO(e.name);
        StringSink out;
        zip.read(*zip.find(e.name), out);
        CHECK(out.data().size() == e.data.size());
        CHECK(out.data() == e.data);
    }
}

TEST_CASE("zip: a member viewed whole, as stored and decompressed") {
    const std::string text = big_text();
    const std::string bytes = make_zip({{"d.txt", text, 0100644, true},
                                        {"s.txt", "stored", 0100644, false},
                                        {"tail.txt", text, 0100644, true, "left over"},
                                        {"bad.txt", text, 0100644, true}});
    std::string damaged = bytes;
    damaged[damaged.find(envpack::testing::raw_deflate(text), bytes.find("bad.txt")) + 100] ^= 0x55;
    ZipReader zip(zip_memory_source(damaged), "t.whl");
    auto view = [&](const char* name) {
        std::string stored;
        std::string data;
        bool exact = false;
        zip.view(*zip.find(name), [&](const ZipReader::MemberView& v) {
            stored = v.stored;
            data = v.data;
            exact = v.exact_deflate;
        });
        return std::tuple{stored, data, exact};
    };
    CHECK(view("d.txt") == std::tuple{envpack::testing::raw_deflate(text), text, true});
    CHECK(view("s.txt") == std::tuple{std::string("stored"), std::string("stored"), false});
    // Bytes after the final block: the data is fine, the stream cannot be copied as it is.
    CHECK(view("tail.txt") ==
          std::tuple{envpack::testing::raw_deflate(text) + "left over", text, false});
    CHECK_THROWS_AS(view("bad.txt"), Error);
    zip.set_whole_member_limit(1000);
    CHECK_FALSE(zip.fits_whole(*zip.find("d.txt")));
    CHECK_THROWS_AS(view("d.txt"), Error);
}
