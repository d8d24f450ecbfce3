// Writes small zip archives in memory for unit tests (stored or raw-deflate members, Unix modes),
// so tests of core/zip and builder/wheel_install need no external tool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <zlib.h>

namespace envpack::testing {

struct ZipEntry {
    std::string name;
    std::string data;
    std::uint32_t mode = 0100644;  // st_mode stored in the external attributes
    bool deflate = true;
    std::string after_stream = {};  // bytes stored after the deflate stream's final block
};

inline void put(std::string& out, std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) {
        out += static_cast<char>((v >> (8 * i)) & 0xff);
    }
}

inline std::string raw_deflate(const std::string& in) {
    z_stream zs{};
    deflateInit2(&zs, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&zs, in.size()) + 16, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

inline std::string make_zip(const std::vector<ZipEntry>& entries) {
    std::string out;
    std::string central;
    for (const auto& e : entries) {
        const std::string body = e.deflate ? raw_deflate(e.data) + e.after_stream : e.data;
        const auto crc = crc32(0, reinterpret_cast<const Bytef*>(e.data.data()),
                               static_cast<uInt>(e.data.size()));
        const std::uint64_t offset = out.size();
        const int method = e.deflate ? 8 : 0;
        put(out, 0x04034b50, 4);
        put(out, 20, 2);
        put(out, 0, 2);
        put(out, method, 2);
        put(out, 0, 4);
        put(out, crc, 4);
        put(out, body.size(), 4);
        put(out, e.data.size(), 4);
        put(out, e.name.size(), 2);
        put(out, 0, 2);
        out += e.name;
        out += body;
        put(central, 0x02014b50, 4);
        put(central, (3 << 8) | 20, 2);
        put(central, 20, 2);
        put(central, 0, 2);
        put(central, method, 2);
        put(central, 0, 4);
        put(central, crc, 4);
        put(central, body.size(), 4);
        put(central, e.data.size(), 4);
        put(central, e.name.size(), 2);
        put(central, 0, 2);
        put(central, 0, 2);
        put(central, 0, 2);
        put(central, 0, 2);
        put(central, static_cast<std::uint64_t>(e.mode) << 16, 4);
        put(central, offset, 4);
        central += e.name;
    }
    const std::uint64_t cd_offset = out.size();
    out += central;
    put(out, 0x06054b50, 4);
    put(out, 0, 2);
    put(out, 0, 2);
    put(out, entries.size(), 2);
    put(out, entries.size(), 2);
    put(out, central.size(), 4);
    put(out, cd_offset, 4);
    put(out, 0, 2);
    return out;
}

}  // namespace envpack::testing
