#include "builder/detail/tar_reader.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack::detail {

namespace {

constexpr std::size_t k_block = 512;

std::string_view field(const char* b, std::size_t offset, std::size_t width) {
    std::string_view f(b + offset, width);
    auto nul = f.find('\0');
    return nul == std::string_view::npos ? f : f.substr(0, nul);
}

// Octal (space/NUL padded) or GNU base-256 (high bit set in the first byte).
std::optional<std::uint64_t> number(const char* b, std::size_t offset, std::size_t width) {
    const auto* p = reinterpret_cast<const unsigned char*>(b + offset);
    if ((p[0] & 0x80) != 0) {
        if ((p[0] & 0x40) != 0) {
            return std::nullopt;  // negative
        }
        std::uint64_t v = p[0] & 0x3f;
        for (std::size_t i = 1; i < width; ++i) {
            if (v > (UINT64_MAX >> 8)) {
                return std::nullopt;
            }
            v = (v << 8) | p[i];
        }
        return v;
    }
    std::size_t i = 0;
    while (i < width && (p[i] == ' ' || p[i] == '\0')) {
        ++i;
    }
    std::uint64_t v = 0;
    bool any = false;
    for (; i < width && p[i] >= '0' && p[i] <= '7'; ++i) {
        v = (v << 3) | static_cast<std::uint64_t>(p[i] - '0');
        any = true;
    }
    for (; i < width; ++i) {
        if (p[i] != ' ' && p[i] != '\0') {
            return std::nullopt;
        }
    }
    if (!any) {
        return 0;
    }
    return v;
}

bool checksum_ok(const char* b) {
    auto stored = number(b, 148, 8);
    if (!stored) {
        return false;
    }
    std::uint64_t unsigned_sum = 0;
    std::int64_t signed_sum = 0;
    for (std::size_t i = 0; i < k_block; ++i) {
        bool in_field = i >= 148 && i < 156;
        unsigned char u = in_field ? ' ' : static_cast<unsigned char>(b[i]);
        signed char s = in_field ? ' ' : static_cast<signed char>(b[i]);
        unsigned_sum += u;
        signed_sum += s;
    }
    return *stored == unsigned_sum || static_cast<std::int64_t>(*stored) == signed_sum;
}

bool all_zero(const char* b) {
    for (std::size_t i = 0; i < k_block; ++i) {
        if (b[i] != 0) {
            return false;
        }
    }
    return true;
}

template <class T>
bool parse_decimal(std::string_view s, T& out) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

struct Pax {
    std::optional<std::string> path;
    std::optional<std::string> linkpath;
    std::optional<std::uint64_t> size;
    std::optional<std::uint32_t> uid;
    std::optional<std::uint32_t> gid;
    std::optional<std::pair<std::int64_t, std::int64_t>> mtime;
    std::vector<std::pair<std::string, std::string>> xattrs;
};

}  // namespace

TarReader::TarReader(std::function<std::string_view(std::size_t)> source, std::string name)
    : m_source(std::move(source)), m_name(std::move(name)) {}

std::string_view TarReader::take(std::size_t max) {
    std::string_view v = m_source(max);
    if (v.empty()) {
        throw Error(fmt::format("{}: the tar stream ends in the middle of an entry", m_name),
                    "the layer is truncated or damaged; re-pull or re-import the image");
    }
    return v;
}

void TarReader::read_exact(char* dst, std::size_t n) {
    while (n > 0) {
        std::string_view v = take(n);
        std::memcpy(dst, v.data(), v.size());
        dst += v.size();
        n -= v.size();
    }
}

void TarReader::skip(std::uint64_t n) {
    while (n > 0) {
        n -= take(static_cast<std::size_t>(std::min<std::uint64_t>(n, 1 << 20))).size();
    }
}

std::string TarReader::read_string(std::uint64_t n) {
    if (n > (64u << 20)) {
        throw Error(fmt::format("{}: a {}-byte tar metadata record is too large", m_name, n));
    }
    std::string s(static_cast<std::size_t>(n), '\0');
    read_exact(s.data(), s.size());
    std::uint64_t rem = n % k_block;
    skip(rem == 0 ? 0 : k_block - rem);
    return s;
}

void TarReader::read_data(const std::function<void(std::string_view)>& out) {
    while (m_data_left > 0) {
        std::string_view v =
            take(static_cast<std::size_t>(std::min<std::uint64_t>(m_data_left, 1 << 20)));
        out(v);
        m_data_left -= v.size();
    }
}

std::optional<TarEntry> TarReader::next() {
    if (m_ended) {
        return std::nullopt;
    }
    skip(m_data_left + m_padding);
    m_data_left = 0;
    m_padding = 0;
    Pax pax;
    std::optional<std::string> gnu_name;
    std::optional<std::string> gnu_link;
    char b[k_block];
    for (;;) {
        std::string_view first = m_source(k_block);
        if (first.empty()) {
            m_ended = true;  // a tar without its end blocks: accepted, as GNU tar does
            return std::nullopt;
        }
        std::memcpy(b, first.data(), first.size());
        read_exact(b + first.size(), k_block - first.size());
        if (all_zero(b)) {
            m_ended = true;
            return std::nullopt;
        }
        if (!checksum_ok(b)) {
            throw Error(fmt::format("{}: a tar header has a bad checksum", m_name),
                        "the layer is damaged; re-pull or re-import the image");
        }
        char type = b[156];
        auto size = number(b, 124, 12);
        if (!size) {
            throw Error(fmt::format("{}: a tar header has a malformed size", m_name));
        }
        if (type == 'x' || type == 'g') {
            std::string text = read_string(*size);
            if (type == 'g') {
                continue;  // global records: nothing envpack applies
            }
            std::string_view rest = text;
            while (!rest.empty()) {
                auto sp = rest.find(' ');
                std::size_t len = 0;
                if (sp == std::string_view::npos || !parse_decimal(rest.substr(0, sp), len) ||
                    len <= sp + 1 || len > rest.size() || rest[len - 1] != '\n') {
                    throw Error(fmt::format("{}: a malformed PAX record", m_name));
                }
                std::string_view rec = rest.substr(sp + 1, len - sp - 2);
                rest.remove_prefix(len);
                auto eq = rec.find('=');
                if (eq == std::string_view::npos) {
                    throw Error(fmt::format("{}: a malformed PAX record", m_name));
                }
                std::string_view key = rec.substr(0, eq);
                std::string_view value = rec.substr(eq + 1);
                if (key == "path") {
                    pax.path = std::string(value);
                } else if (key == "linkpath") {
                    pax.linkpath = std::string(value);
                } else if (key == "size") {
                    std::uint64_t v = 0;
                    if (!parse_decimal(value, v)) {
                        throw Error(fmt::format("{}: a malformed PAX size", m_name));
                    }
                    pax.size = v;
                } else if (key == "uid" || key == "gid") {
                    std::uint32_t v = 0;
                    if (!parse_decimal(value, v)) {
                        throw Error(fmt::format("{}: a malformed PAX {}", m_name, key));
                    }
                    (key == "uid" ? pax.uid : pax.gid) = v;
                } else if (key == "mtime") {
                    auto dot = value.find('.');
                    std::int64_t sec = 0;
                    std::int64_t nsec = 0;
                    if (parse_decimal(value.substr(0, dot), sec)) {
                        if (dot != std::string_view::npos) {
                            std::string frac(value.substr(dot + 1, 9));
                            frac.resize(9, '0');
                            parse_decimal(std::string_view(frac), nsec);
                        }
                        pax.mtime = {sec, nsec};
                    }
                } else if (key.starts_with("SCHILY.xattr.")) {
                    pax.xattrs.emplace_back(std::string(key.substr(13)), std::string(value));
                }
            }
            continue;
        }
        if (type == 'L' || type == 'K') {
            std::string text = read_string(*size);
            auto nul = text.find('\0');
            if (nul != std::string::npos) {
                text.resize(nul);
            }
            (type == 'L' ? gnu_name : gnu_link) = std::move(text);
            continue;
        }
        TarEntry e;
        std::string_view magic(b + 257, 6);
        std::string name(field(b, 0, 100));
        if (magic == std::string_view("ustar\0", 6)) {
            std::string prefix(field(b, 345, 155));
            if (!prefix.empty()) {
                name = prefix + "/" + name;
            }
        }
        e.path = pax.path ? *pax.path : gnu_name ? *gnu_name : name;
        e.link_target = pax.linkpath ? *pax.linkpath
                        : gnu_link   ? *gnu_link
                                     : std::string(field(b, 157, 100));
        e.mode = static_cast<std::uint32_t>(number(b, 100, 8).value_or(0) & 07777);
        e.uid = pax.uid ? *pax.uid : static_cast<std::uint32_t>(number(b, 108, 8).value_or(0));
        e.gid = pax.gid ? *pax.gid : static_cast<std::uint32_t>(number(b, 116, 8).value_or(0));
        if (pax.mtime) {
            e.mtime = pax.mtime->first;
            e.mtime_nsec = pax.mtime->second;
        } else {
            e.mtime = static_cast<std::int64_t>(number(b, 136, 12).value_or(0));
        }
        std::uint64_t data = pax.size ? *pax.size : *size;
        e.xattrs = std::move(pax.xattrs);
        switch (type) {
            case '0':
            case '\0':
            case '7':
                e.type = !e.path.empty() && e.path.back() == '/' ? TarEntry::Type::directory
                                                                 : TarEntry::Type::file;
                break;
            case '1':
                e.type = TarEntry::Type::hardlink;
                break;
            case '2':
                e.type = TarEntry::Type::symlink;
                break;
            case '3':
                e.type = TarEntry::Type::char_device;
                break;
            case '4':
                e.type = TarEntry::Type::block_device;
                break;
            case '5':
                e.type = TarEntry::Type::directory;
                break;
            case '6':
                e.type = TarEntry::Type::fifo;
                break;
            default:
                e.type = TarEntry::Type::other;
                break;
        }
        if (e.type == TarEntry::Type::file) {
            e.size = data;
        }
        m_data_left = data;
        std::uint64_t rem = data % k_block;
        m_padding = rem == 0 ? 0 : k_block - rem;
        return e;
    }
}

}  // namespace envpack::detail
