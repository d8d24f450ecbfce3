#include "core/base64.h"

namespace envpack {
namespace {

constexpr std::string_view k_b64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string base64_encode(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                     (static_cast<unsigned char>(data[i + 1]) << 8) |
                     static_cast<unsigned char>(data[i + 2]);
        out += k_b64[(v >> 18) & 63];
        out += k_b64[(v >> 12) & 63];
        out += k_b64[(v >> 6) & 63];
        out += k_b64[v & 63];
    }
    if (i < data.size()) {
        unsigned v = static_cast<unsigned char>(data[i]) << 16;
        if (i + 1 < data.size()) {
            v |= static_cast<unsigned char>(data[i + 1]) << 8;
        }
        out += k_b64[(v >> 18) & 63];
        out += k_b64[(v >> 12) & 63];
        out += i + 1 < data.size() ? k_b64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    size_t padding = 0;
    for (char c : text) {
        if (c == '=') {
            ++padding;
            continue;
        }
        if (padding > 0 || c == '\n' || c == '\r') {
            if (c == '\n' || c == '\r') {
                continue;
            }
            return std::nullopt;
        }
        auto pos = k_b64.find(c);
        if (pos == std::string_view::npos) {
            return std::nullopt;
        }
        buffer = (buffer << 6) | static_cast<unsigned>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xff);
        }
    }
    if (padding > 2) {
        return std::nullopt;
    }
    return out;
}

}  // namespace envpack
