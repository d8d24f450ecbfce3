// MessagePack (https://github.com/msgpack/msgpack/blob/master/spec.md), as CEP 16 sharded
// repodata uses it: a strict pull reader and a canonical writer.
//
// `MsgpackReader` reads one value at a time from a byte buffer it does not own. Every read is
// bounds-checked: truncated input, a type other than the one asked for, reserved bytes (0xc1),
// nesting deeper than `k_max_depth` while skipping, or a container that claims more entries than
// bytes are left throws Error (kind protocol, exit 1) naming the source and the byte offset. Ext
// values (fixext, ext 8/16/32) are refused by every typed read and stepped over by `skip`.
// Strings are returned as views into the buffer (not checked for UTF-8).
//
// `MsgpackWriter` appends values in the smallest encoding for each (positive fixint, uint8..64,
// negative fixint, int8..64, fixstr/str8/16/32, bin8/16/32, fixmap/map16/32, fixarray/
// array16/32, float64), so equal values always give equal bytes. `write_json` writes a JSON
// document that way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace envpack {

enum class MsgpackType { nil, boolean, integer, floating, str, bin, array, map, ext };

std::string_view to_string(MsgpackType type);

class MsgpackReader {
  public:
    static constexpr int k_max_depth = 64;

    // `source` names the data in errors (a file or URL).
    MsgpackReader(std::string_view data, std::string_view source);

    // Whether the whole buffer has been read.
    bool at_end() const { return m_pos == m_data.size(); }
    std::size_t offset() const { return m_pos; }

    // The type of the next value, without consuming it. Throws at the end of the data or on a
    // reserved byte.
    MsgpackType peek() const;

    void read_nil();
    bool read_bool();
    // Any integer encoding; an unsigned value above INT64_MAX throws.
    std::int64_t read_int();
    // float32 or float64 (integers are accepted too, as JSON numbers would be).
    double read_double();
    std::string_view read_str();
    std::string_view read_bin();
    // The number of entries (key-value pairs for a map); the entries follow.
    std::size_t read_array_header();
    std::size_t read_map_header();
    // Steps over one value of any type (ext included), containers with their content.
    void skip();

    // An Error naming the source and the current offset (for callers' own format checks).
    [[noreturn]] void fail(std::string_view what) const;

  private:
    std::uint8_t byte_at(std::size_t pos) const;
    std::uint64_t read_be(std::size_t bytes);
    std::string_view take(std::size_t n);
    [[noreturn]] void wrong_type(std::string_view wanted) const;
    void skip_at_depth(int depth);

    std::string_view m_data;
    std::string m_source;
    std::size_t m_pos = 0;
};

class MsgpackWriter {
  public:
    void nil();
    void boolean(bool value);
    void integer(std::int64_t value);
    void floating(double value);
    void str(std::string_view value);
    void bin(std::string_view bytes);
    void array_header(std::size_t entries);
    void map_header(std::size_t pairs);

    const std::string& data() const { return m_out; }
    std::string take() { return std::move(m_out); }

  private:
    void put_be(std::uint64_t value, int bytes);
    void sized_header(std::size_t n, std::uint8_t fix_base, std::size_t fix_max, std::uint8_t op8,
                      std::uint8_t op16, std::uint8_t op32);

    std::string m_out;
};

// Writes `value` as msgpack: objects as maps in their (sorted) key order, JSON binary values
// (`nlohmann::json::binary`) as bin, integers and floats by their JSON type.
void write_json(MsgpackWriter& writer, const nlohmann::json& value);

}  // namespace envpack
