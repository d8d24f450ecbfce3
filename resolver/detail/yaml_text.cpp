#include "resolver/detail/yaml_text.h"

#include <array>
#include <cctype>

namespace envpack::detail {

std::string yaml_quote(std::string_view s) {
    bool plain = !s.empty() && (std::isalpha(static_cast<unsigned char>(s.front())) ||
                                s.front() == '_' || s.front() == '/');
    for (char c : s) {
        bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
                  c == '+' || c == '-' || c == '=' || c == '<' || c == '>' || c == '~';
        if (!ok) {
            plain = false;
            break;
        }
    }
    if (plain) {
        static constexpr std::array<std::string_view, 11> k_words = {
            "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf"};
        std::string lower;
        for (char c : s) {
            lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        for (auto w : k_words) {
            if (lower == w) {
                plain = false;
            }
        }
    }
    if (plain) {
        return std::string(s);
    }
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += '\'';
        }
        out += c;
    }
    out += '\'';
    return out;
}

std::string_view text_line(std::string_view text, int line) {
    if (line <= 0) {
        return {};
    }
    size_t start = 0;
    for (int i = 1; i < line; ++i) {
        size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos) {
            return {};
        }
        start = nl + 1;
    }
    size_t end = text.find('\n', start);
    std::string_view out =
        text.substr(start, end == std::string_view::npos ? text.size() - start : end - start);
    if (!out.empty() && out.back() == '\r') {
        out.remove_suffix(1);
    }
    return out;
}

}  // namespace envpack::detail
