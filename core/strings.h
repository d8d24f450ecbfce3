// Small ASCII string helpers shared across modules (the one place for trim and lower-casing).
//
// ASCII only, by design: they serve protocol tokens (HTTP header names, auth schemes, registry
// hosts), conda versions and YAML words, none of which are locale-dependent.
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

namespace envpack {

// `s` without leading and trailing whitespace (space, tab, CR, LF, VT, FF); a view into `s`.
inline std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return s;
}

// `s` without leading whitespace; a view into `s`.
inline std::string_view trim_left(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    return s;
}

// Lower-cases the ASCII letters of `s` in place (no allocation: for hot parsing loops).
inline void lower_in_place(std::string& s) {
    for (char& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
}

// `c` lower-cased when it is an ASCII letter.
inline char lower_ascii(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Appends code point `cp` to `out` as UTF-8 (the JSON and HTML escape decoders); a value past
// U+10FFFF appends nothing.
inline void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x110000) {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// A copy of `s` with ASCII letters lower-cased.
inline std::string to_lower(std::string_view s) {
    std::string out(s);
    lower_in_place(out);
    return out;
}

}  // namespace envpack
