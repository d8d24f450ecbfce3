#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "core/error.h"
#include "core/msgpack.h"

#include <nlohmann/json.hpp>

using namespace envpack;

namespace {

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int c : b) {
        s.push_back(static_cast<char>(c));
    }
    return s;
}

std::string encode_int(std::int64_t v) {
    MsgpackWriter w;
    w.integer(v);
    return w.take();
}

// The message of the Error `f` throws; fails the test when it throws none or another kind.
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::protocol);
        CHECK(static_cast<int>(e.code()) == 1);
        return e.what();
    }
    FAIL("no error thrown");
    return {};
}

}  // namespace

TEST_CASE("msgpack integers use the smallest encoding and read back", "[msgpack]") {
    struct Case {
        std::int64_t value;
        std::string encoded;
    };
    const Case cases[] = {
        {0, bytes({0x00})},
        {127, bytes({0x7f})},
        {128, bytes({0xcc, 0x80})},
        {255, bytes({0xcc, 0xff})},
        {256, bytes({0xcd, 0x01, 0x00})},
        {65536, bytes({0xce, 0x00, 0x01, 0x00, 0x00})},
        {1638891318904, bytes({0xcf, 0x00, 0x00, 0x01, 0x7d, 0x95, 0x88, 0xee, 0x78})},
        {-1, bytes({0xff})},
        {-32, bytes({0xe0})},
        {-33, bytes({0xd0, 0xdf})},
        {-129, bytes({0xd1, 0xff, 0x7f})},
        {-40000, bytes({0xd2, 0xff, 0xff, 0x63, 0xc0})},
        {std::numeric_limits<std::int64_t>::min(),
         bytes({0xd3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00})},
    };
    for (const auto& c : cases) {
        INFO(c.value);
        CHECK(encode_int(c.value) == c.encoded);
        MsgpackReader r(c.encoded, "t");
        CHECK(r.peek() == MsgpackType::integer);
        CHECK(r.read_int() == c.value);
        CHECK(r.at_end());
    }
}

TEST_CASE("msgpack strings, bins, containers and scalars round-trip", "[msgpack]") {
    MsgpackWriter w;
    w.map_header(3);
    w.str("name");
    w.str(std::string(40, 'x'));  // str8
    w.str("hash");
    w.bin(std::string(32, '\x01'));
    w.str("list");
    w.array_header(5);
    w.nil();
    w.boolean(true);
    w.boolean(false);
    w.floating(1.5);
    w.str(std::string(300, 'y'));  // str16
    const std::string data = w.take();
    CHECK(static_cast<std::uint8_t>(data[0]) == 0x83);

    MsgpackReader r(data, "t");
    REQUIRE(r.read_map_header() == 3);
    CHECK(r.read_str() == "name");
    CHECK(r.read_str() == std::string(40, 'x'));
    CHECK(r.read_str() == "hash");
    CHECK(r.read_bin() == std::string(32, '\x01'));
    CHECK(r.read_str() == "list");
    REQUIRE(r.read_array_header() == 5);
    r.read_nil();
    CHECK(r.read_bool());
    CHECK_FALSE(r.read_bool());
    CHECK(r.read_double() == 1.5);
    CHECK(r.read_str().size() == 300);
    CHECK(r.at_end());

    MsgpackReader s(data, "t");
    s.skip();
    CHECK(s.at_end());
}

TEST_CASE("msgpack big containers use 16- and 32-bit headers", "[msgpack]") {
    MsgpackWriter w;
    w.array_header(20);
    CHECK(w.data() == bytes({0xdc, 0x00, 0x14}));
    MsgpackWriter m;
    m.map_header(70000);
    CHECK(m.data() == bytes({0xdf, 0x00, 0x01, 0x11, 0x70}));
    MsgpackWriter b;
    b.bin(std::string(256, 'a'));
    CHECK(b.data().substr(0, 3) == bytes({0xc5, 0x01, 0x00}));
}

TEST_CASE("msgpack reads float32 and fixed ext values are skipped", "[msgpack]") {
    // float32 1.0, then fixext4 (type 1), then ext8 of 2 bytes, then nil
    const std::string data = bytes({0xca, 0x3f, 0x80, 0x00, 0x00, 0xd6, 0x01, 0x01, 0x02, 0x03,
                                    0x04, 0xc7, 0x02, 0x05, 0xaa, 0xbb, 0xc0});
    MsgpackReader r(data, "t");
    CHECK(r.read_double() == 1.0);
    CHECK(r.peek() == MsgpackType::ext);
    CHECK_THROWS_AS(r.read_int(), Error);
    r.skip();
    CHECK(r.peek() == MsgpackType::ext);
    r.skip();
    r.read_nil();
    CHECK(r.at_end());
}

TEST_CASE("msgpack malformed input throws a protocol error naming the source", "[msgpack]") {
    SECTION("empty") {
        auto msg = error_of([] { MsgpackReader("", "shard.msgpack").peek(); });
        CHECK(msg.find("shard.msgpack") != std::string::npos);
        CHECK(msg.find("unexpected end of data") != std::string::npos);
    }
    SECTION("truncated string") {
        const std::string d = bytes({0xa5, 'a', 'b'});
        auto msg = error_of([&] { MsgpackReader(d, "x").read_str(); });
        CHECK(msg.find("runs past the end") != std::string::npos);
    }
    SECTION("truncated integer") {
        const std::string d = bytes({0xcd, 0x01});
        error_of([&] { MsgpackReader(d, "x").read_int(); });
    }
    SECTION("reserved byte") {
        const std::string d = bytes({0xc1});
        auto msg = error_of([&] { MsgpackReader(d, "x").skip(); });
        CHECK(msg.find("reserved byte 0xc1") != std::string::npos);
    }
    SECTION("wrong type names both") {
        const std::string d = bytes({0x01});
        auto msg = error_of([&] { MsgpackReader(d, "x").read_str(); });
        CHECK(msg.find("expected str, found integer") != std::string::npos);
    }
    SECTION("a container longer than the data") {
        const std::string d = bytes({0xdd, 0xff, 0xff, 0xff, 0xff, 0x00});
        auto msg = error_of([&] { MsgpackReader(d, "x").read_array_header(); });
        CHECK(msg.find("longer than the data") != std::string::npos);
        const std::string m = bytes({0xdf, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00});
        error_of([&] { MsgpackReader(m, "x").read_map_header(); });
    }
    SECTION("nesting too deep") {
        const std::string d(200, static_cast<char>(0x91));  // [[[[...
        auto msg = error_of([&] { MsgpackReader(d, "x").skip(); });
        CHECK(msg.find("nested deeper") != std::string::npos);
    }
    SECTION("unsigned above int64") {
        const std::string d = bytes({0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
        error_of([&] { MsgpackReader(d, "x").read_int(); });
    }
    SECTION("truncated ext") {
        const std::string d = bytes({0xd7, 0x01, 0x00});
        error_of([&] { MsgpackReader(d, "x").skip(); });
    }
}

TEST_CASE("msgpack write_json writes sorted maps, binaries as bin and numbers by type",
          "[msgpack]") {
    nlohmann::json j = {{"z", nullptr},
                        {"a", {1, -2, 2.5, true, "s"}},
                        {"h", nlohmann::json::binary({0xde, 0xad})}};
    MsgpackWriter w;
    write_json(w, j);
    MsgpackReader r(w.data(), "t");
    REQUIRE(r.read_map_header() == 3);
    CHECK(r.read_str() == "a");
    REQUIRE(r.read_array_header() == 5);
    CHECK(r.read_int() == 1);
    CHECK(r.read_int() == -2);
    CHECK(r.read_double() == 2.5);
    CHECK(r.read_bool());
    CHECK(r.read_str() == "s");
    CHECK(r.read_str() == "h");
    CHECK(r.read_bin() == bytes({0xde, 0xad}));
    CHECK(r.read_str() == "z");
    r.read_nil();
    CHECK(r.at_end());
}
