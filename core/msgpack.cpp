#include "core/msgpack.h"

#include <bit>
#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace envpack {

std::string_view to_string(MsgpackType type) {
    switch (type) {
        case MsgpackType::nil:
            return "nil";
        case MsgpackType::boolean:
            return "bool";
        case MsgpackType::integer:
            return "integer";
        case MsgpackType::floating:
            return "float";
        case MsgpackType::str:
            return "str";
        case MsgpackType::bin:
            return "bin";
        case MsgpackType::array:
            return "array";
        case MsgpackType::map:
            return "map";
        case MsgpackType::ext:
            return "ext";
    }
    return "?";
}

MsgpackReader::MsgpackReader(std::string_view data, std::string_view source)
    : m_data(data), m_source(source) {}

void MsgpackReader::fail(std::string_view what) const {
    throw protocol_error(
        fmt::format("read msgpack `{}`: {} at byte {} of {}", m_source, what, m_pos, m_data.size()),
        "the file is damaged or not CEP 16 sharded repodata; delete it from the "
        "cache or fix the channel");
}

std::uint8_t MsgpackReader::byte_at(std::size_t pos) const {
    if (pos >= m_data.size()) {
        fail("unexpected end of data");
    }
    return static_cast<std::uint8_t>(m_data[pos]);
}

std::uint64_t MsgpackReader::read_be(std::size_t bytes) {
    if (m_data.size() - m_pos < bytes) {
        fail("unexpected end of data");
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
        v = (v << 8) | static_cast<std::uint8_t>(m_data[m_pos + i]);
    }
    m_pos += bytes;
    return v;
}

std::string_view MsgpackReader::take(std::size_t n) {
    if (m_data.size() - m_pos < n) {
        fail(fmt::format("a length of {} runs past the end of the data", n));
    }
    std::string_view out = m_data.substr(m_pos, n);
    m_pos += n;
    return out;
}

MsgpackType MsgpackReader::peek() const {
    const std::uint8_t b = byte_at(m_pos);
    if (b <= 0x7f || b >= 0xe0) {
        return MsgpackType::integer;
    }
    if (b <= 0x8f) {
        return MsgpackType::map;
    }
    if (b <= 0x9f) {
        return MsgpackType::array;
    }
    if (b <= 0xbf) {
        return MsgpackType::str;
    }
    switch (b) {
        case 0xc0:
            return MsgpackType::nil;
        case 0xc2:
        case 0xc3:
            return MsgpackType::boolean;
        case 0xc4:
        case 0xc5:
        case 0xc6:
            return MsgpackType::bin;
        case 0xc7:
        case 0xc8:
        case 0xc9:
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            return MsgpackType::ext;
        case 0xca:
        case 0xcb:
            return MsgpackType::floating;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3:
            return MsgpackType::integer;
        case 0xd9:
        case 0xda:
        case 0xdb:
            return MsgpackType::str;
        case 0xdc:
        case 0xdd:
            return MsgpackType::array;
        case 0xde:
        case 0xdf:
            return MsgpackType::map;
        default:
            fail(fmt::format("reserved byte 0x{:02x}", b));
    }
}

void MsgpackReader::wrong_type(std::string_view wanted) const {
    fail(fmt::format("expected {}, found {}", wanted, to_string(peek())));
}

void MsgpackReader::read_nil() {
    if (peek() != MsgpackType::nil) {
        wrong_type("nil");
    }
    ++m_pos;
}

bool MsgpackReader::read_bool() {
    if (peek() != MsgpackType::boolean) {
        wrong_type("bool");
    }
    return static_cast<std::uint8_t>(m_data[m_pos++]) == 0xc3;
}

std::int64_t MsgpackReader::read_int() {
    if (peek() != MsgpackType::integer) {
        wrong_type("integer");
    }
    const std::uint8_t b = static_cast<std::uint8_t>(m_data[m_pos++]);
    if (b <= 0x7f) {
        return b;
    }
    if (b >= 0xe0) {
        return static_cast<std::int8_t>(b);
    }
    switch (b) {
        case 0xcc:
            return static_cast<std::int64_t>(read_be(1));
        case 0xcd:
            return static_cast<std::int64_t>(read_be(2));
        case 0xce:
            return static_cast<std::int64_t>(read_be(4));
        case 0xcf: {
            const std::uint64_t v = read_be(8);
            if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                fail("an unsigned integer above 2^63-1");
            }
            return static_cast<std::int64_t>(v);
        }
        case 0xd0:
            return static_cast<std::int8_t>(read_be(1));
        case 0xd1:
            return static_cast<std::int16_t>(read_be(2));
        case 0xd2:
            return static_cast<std::int32_t>(read_be(4));
        default:  // 0xd3
            return static_cast<std::int64_t>(read_be(8));
    }
}

double MsgpackReader::read_double() {
    const MsgpackType t = peek();
    if (t == MsgpackType::integer) {
        return static_cast<double>(read_int());
    }
    if (t != MsgpackType::floating) {
        wrong_type("float");
    }
    const std::uint8_t b = static_cast<std::uint8_t>(m_data[m_pos++]);
    if (b == 0xca) {
        return std::bit_cast<float>(static_cast<std::uint32_t>(read_be(4)));
    }
    return std::bit_cast<double>(read_be(8));
}

std::string_view MsgpackReader::read_str() {
    if (peek() != MsgpackType::str) {
        wrong_type("str");
    }
    const std::uint8_t b = static_cast<std::uint8_t>(m_data[m_pos++]);
    std::size_t n = 0;
    if (b <= 0xbf) {
        n = b & 0x1f;
    } else {
        n = static_cast<std::size_t>(read_be(b == 0xd9 ? 1 : b == 0xda ? 2 : 4));
    }
    return take(n);
}

std::string_view MsgpackReader::read_bin() {
    if (peek() != MsgpackType::bin) {
        wrong_type("bin");
    }
    const std::uint8_t b = static_cast<std::uint8_t>(m_data[m_pos++]);
    const std::size_t n = static_cast<std::size_t>(read_be(b == 0xc4 ? 1 : b == 0xc5 ? 2 : 4));
    return take(n);
}

std::size_t MsgpackReader::read_array_header() {
    if (peek() != MsgpackType::array) {
        wrong_type("array");
    }
    const std::uint8_t b = static_cast<std::uint8_t>(m_data[m_pos++]);
    const std::size_t n =
        b <= 0x9f ? (b & 0x0f) : static_cast<std::size_t>(read_be(b == 0xdc ? 2 : 4));
    if (n > m_data.size() - m_pos) {  // each entry takes at least one byte
        fail(fmt::format("an array of {} entries is longer than the data", n));
    }
    return n;
}

std::size_t MsgpackReader::read_map_header() {
    if (peek() != MsgpackType::map) {
        wrong_type("map");
    }
    const std::uint8_t b = static_cast<std::uint8_t>(m_data[m_pos++]);
    const std::size_t n =
        b <= 0x8f ? (b & 0x0f) : static_cast<std::size_t>(read_be(b == 0xde ? 2 : 4));
    if (n > (m_data.size() - m_pos) / 2) {  // each pair takes at least two bytes
        fail(fmt::format("a map of {} entries is longer than the data", n));
    }
    return n;
}

void MsgpackReader::skip() {
    skip_at_depth(0);
}

void MsgpackReader::skip_at_depth(int depth) {
    if (depth > k_max_depth) {
        fail(fmt::format("values nested deeper than {}", k_max_depth));
    }
    switch (peek()) {
        case MsgpackType::nil:
            read_nil();
            return;
        case MsgpackType::boolean:
            read_bool();
            return;
        case MsgpackType::integer:
            read_int();
            return;
        case MsgpackType::floating:
            read_double();
            return;
        case MsgpackType::str:
            read_str();
            return;
        case MsgpackType::bin:
            read_bin();
            return;
        case MsgpackType::array: {
            const std::size_t n = read_array_header();
            for (std::size_t i = 0; i < n; ++i) {
                skip_at_depth(depth + 1);
            }
            return;
        }
        case MsgpackType::map: {
            const std::size_t n = read_map_header();
            for (std::size_t i = 0; i < 2 * n; ++i) {
                skip_at_depth(depth + 1);
            }
            return;
        }
        case MsgpackType::ext: {
            const std::uint8_t b = static_cast<std::uint8_t>(m_data[m_pos++]);
            std::size_t n = 0;
            switch (b) {
                case 0xd4:
                    n = 1;
                    break;
                case 0xd5:
                    n = 2;
                    break;
                case 0xd6:
                    n = 4;
                    break;
                case 0xd7:
                    n = 8;
                    break;
                case 0xd8:
                    n = 16;
                    break;
                default:
                    n = static_cast<std::size_t>(read_be(b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4));
            }
            take(1);  // the ext type
            take(n);
            return;
        }
    }
}

void MsgpackWriter::put_be(std::uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) {
        m_out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
    }
}

void MsgpackWriter::sized_header(std::size_t n, std::uint8_t fix_base, std::size_t fix_max,
                                 std::uint8_t op8, std::uint8_t op16, std::uint8_t op32) {
    if (n <= fix_max) {
        m_out.push_back(static_cast<char>(fix_base | n));
    } else if (op8 != 0 && n <= 0xff) {
        m_out.push_back(static_cast<char>(op8));
        put_be(n, 1);
    } else if (n <= 0xffff) {
        m_out.push_back(static_cast<char>(op16));
        put_be(n, 2);
    } else {
        m_out.push_back(static_cast<char>(op32));
        put_be(n, 4);
    }
}

void MsgpackWriter::nil() {
    m_out.push_back(static_cast<char>(0xc0));
}

void MsgpackWriter::boolean(bool value) {
    m_out.push_back(static_cast<char>(value ? 0xc3 : 0xc2));
}

void MsgpackWriter::integer(std::int64_t v) {
    if (v >= 0) {
        const auto u = static_cast<std::uint64_t>(v);
        if (u <= 0x7f) {
            m_out.push_back(static_cast<char>(u));
        } else if (u <= 0xff) {
            m_out.push_back(static_cast<char>(0xcc));
            put_be(u, 1);
        } else if (u <= 0xffff) {
            m_out.push_back(static_cast<char>(0xcd));
            put_be(u, 2);
        } else if (u <= 0xffffffffu) {
            m_out.push_back(static_cast<char>(0xce));
            put_be(u, 4);
        } else {
            m_out.push_back(static_cast<char>(0xcf));
            put_be(u, 8);
        }
        return;
    }
    const auto u = static_cast<std::uint64_t>(v);
    if (v >= -32) {
        m_out.push_back(static_cast<char>(u & 0xff));
    } else if (v >= -128) {
        m_out.push_back(static_cast<char>(0xd0));
        put_be(u, 1);
    } else if (v >= -32768) {
        m_out.push_back(static_cast<char>(0xd1));
        put_be(u, 2);
    } else if (v >= std::numeric_limits<std::int32_t>::min()) {
        m_out.push_back(static_cast<char>(0xd2));
        put_be(u, 4);
    } else {
        m_out.push_back(static_cast<char>(0xd3));
        put_be(u, 8);
    }
}

void MsgpackWriter::floating(double value) {
    m_out.push_back(static_cast<char>(0xcb));
    put_be(std::bit_cast<std::uint64_t>(value), 8);
}

void MsgpackWriter::str(std::string_view value) {
    sized_header(value.size(), 0xa0, 31, 0xd9, 0xda, 0xdb);
    m_out.append(value);
}

void MsgpackWriter::bin(std::string_view bytes) {
    if (bytes.size() <= 0xff) {
        m_out.push_back(static_cast<char>(0xc4));
        put_be(bytes.size(), 1);
    } else {
        sized_header(bytes.size(), 0, 0, 0, 0xc5, 0xc6);
    }
    m_out.append(bytes);
}

void MsgpackWriter::array_header(std::size_t entries) {
    sized_header(entries, 0x90, 15, 0, 0xdc, 0xdd);
}

void MsgpackWriter::map_header(std::size_t pairs) {
    sized_header(pairs, 0x80, 15, 0, 0xde, 0xdf);
}

void write_json(MsgpackWriter& w, const nlohmann::json& value) {
    using T = nlohmann::json::value_t;
    switch (value.type()) {
        case T::null:
        case T::discarded:
            w.nil();
            return;
        case T::boolean:
            w.boolean(value.get<bool>());
            return;
        case T::number_integer:
            w.integer(value.get<std::int64_t>());
            return;
        case T::number_unsigned: {
            const auto u = value.get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                w.floating(static_cast<double>(u));
            } else {
                w.integer(static_cast<std::int64_t>(u));
            }
            return;
        }
        case T::number_float:
            w.floating(value.get<double>());
            return;
        case T::string:
            w.str(value.get_ref<const std::string&>());
            return;
        case T::binary: {
            const auto& b = value.get_binary();
            w.bin(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
            return;
        }
        case T::array:
            w.array_header(value.size());
            for (const auto& v : value) {
                write_json(w, v);
            }
            return;
        case T::object:
            w.map_header(value.size());
            for (const auto& [k, v] : value.items()) {
                w.str(k);
                write_json(w, v);
            }
            return;
    }
}

}  // namespace envpack
