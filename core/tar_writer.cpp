#include "core/tar_writer.h"

#include <cstring>

#include <fmt/format.h>

namespace envpack::tar {

namespace {

constexpr size_t k_block = 512;
constexpr std::uint64_t k_max_octal_size = 077777777777ULL;  // 11 octal digits
constexpr std::uint32_t k_max_octal_id = 07777777;           // 7 octal digits
constexpr size_t k_name_field = 32;                          // uname/gname, with the NUL

void put_octal(char* field, size_t width, std::uint64_t value) {
    // width includes the trailing NUL.
    std::string s = fmt::format("{:0{}o}", value, width - 1);
    std::memcpy(field, s.data(), width - 1);
    field[width - 1] = '\0';
}

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) {
            return false;
        }
        for (size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) {
                return false;
            }
        }
        i += n;
    }
    return true;
}

// One PAX record: "<len> <key>=<value>\n" where len counts the whole record including itself.
std::string pax_record(std::string_view key, std::string_view value) {
    size_t base = key.size() + value.size() + 3;  // ' ', '=', '\n'
    size_t len = base + 1;
    while (std::to_string(len).size() + base != len) {
        ++len;
    }
    return fmt::format("{} {}={}\n", len, key, value);
}

void write_block(Sink& out, const TarHeader& h, std::string_view name, std::string_view linkname,
                 std::uint64_t size) {
    char b[k_block];
    std::memset(b, 0, sizeof b);
    std::memcpy(b, name.data(), std::min<size_t>(name.size(), 100));
    put_octal(b + 100, 8, h.mode & 07777);
    put_octal(b + 108, 8, h.uid > k_max_octal_id ? 0 : h.uid);
    put_octal(b + 116, 8, h.gid > k_max_octal_id ? 0 : h.gid);
    put_octal(b + 124, 12, size);
    put_octal(b + 136, 12, static_cast<std::uint64_t>(std::max<std::int64_t>(0, h.mtime)));
    b[156] = h.typeflag;
    std::memcpy(b + 157, linkname.data(), std::min<size_t>(linkname.size(), 100));
    std::memcpy(b + 257, "ustar", 6);
    std::memcpy(b + 263, "00", 2);
    if (h.uname.size() < k_name_field) {
        std::memcpy(b + 265, h.uname.data(), h.uname.size());
    }
    if (h.gname.size() < k_name_field) {
        std::memcpy(b + 297, h.gname.data(), h.gname.size());
    }
    put_octal(b + 329, 8, 0);
    put_octal(b + 337, 8, 0);
    std::memset(b + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : b) {
        sum += c;
    }
    std::string chk = fmt::format("{:06o}", sum);
    std::memcpy(b + 148, chk.data(), 6);
    b[154] = '\0';
    b[155] = ' ';
    out.write(b, sizeof b);
}

}  // namespace

void write_tar_header(Sink& out, const TarHeader& h) {
    std::string pax;
    bool binary = false;
    if (h.name.size() > 100) {
        pax += pax_record("path", h.name);
        binary = binary || !valid_utf8(h.name);
    }
    if (h.linkname.size() > 100) {
        pax += pax_record("linkpath", h.linkname);
        binary = binary || !valid_utf8(h.linkname);
    }
    if (h.size > k_max_octal_size) {
        pax += pax_record("size", std::to_string(h.size));
    }
    if (h.uid > k_max_octal_id) {
        pax += pax_record("uid", std::to_string(h.uid));
    }
    if (h.gid > k_max_octal_id) {
        pax += pax_record("gid", std::to_string(h.gid));
    }
    if (h.uname.size() >= k_name_field) {
        pax += pax_record("uname", h.uname);
        binary = binary || !valid_utf8(h.uname);
    }
    if (h.gname.size() >= k_name_field) {
        pax += pax_record("gname", h.gname);
        binary = binary || !valid_utf8(h.gname);
    }
    for (const auto& [name, value] : h.xattrs) {
        pax += pax_record("SCHILY.xattr." + name, value);
    }
    if (!pax.empty()) {
        if (binary) {
            pax = pax_record("hdrcharset", "BINARY") + pax;
        }
        TarHeader ph;
        ph.typeflag = 'x';
        ph.mode = 0644;
        ph.mtime = h.mtime;
        std::string base = h.name;
        if (!base.empty() && base.back() == '/') {
            base.pop_back();
        }
        base = base.substr(base.rfind('/') == std::string::npos ? 0 : base.rfind('/') + 1);
        std::string pname = ("PaxHeaders/" + base).substr(0, 100);
        write_block(out, ph, pname, "", pax.size());
        out.write(pax);
        write_tar_padding(out, pax.size());
    }
    write_block(out, h, std::string_view(h.name).substr(0, 100),
                std::string_view(h.linkname).substr(0, 100),
                h.size > k_max_octal_size ? 0 : h.size);
}

void write_tar_padding(Sink& out, std::uint64_t size) {
    static const char k_zeros[k_block] = {};
    size_t rem = size % k_block;
    if (rem != 0) {
        out.write(k_zeros, k_block - rem);
    }
}

void write_tar_end(Sink& out) {
    static const char k_zeros[2 * k_block] = {};
    out.write(k_zeros, sizeof k_zeros);
}

}  // namespace envpack::tar
