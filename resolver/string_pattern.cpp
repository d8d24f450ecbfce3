#include "resolver/string_pattern.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "resolver/version_spec.h"  // glob_matches

namespace envpack {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

}  // namespace

std::expected<std::shared_ptr<const std::regex>, SpecSyntaxError> compile_conda_regex(
    std::string_view pattern) {
    // Python-only syntax that ECMAScript would reject or read differently.
    struct Unsupported {
        std::string_view text;
        std::string_view what;
    };
    static constexpr std::array<Unsupported, 6> k_python_only = {{
        {"(?P", "named groups `(?P<name>...)`"},
        {"(?<", "look-behind `(?<=...)` / `(?<!...)`"},
        {"(?#", "comments `(?#...)`"},
        {"\\A", "`\\A`"},
        {"\\Z", "`\\Z`"},
        {"\\z", "`\\z`"},
    }};
    for (const auto& u : k_python_only) {
        if (size_t at = pattern.find(u.text); at != std::string_view::npos) {
            return std::unexpected(SpecSyntaxError{
                fmt::format("regular expression `{}` uses Python-only {}, which envpack's "
                            "ECMAScript matcher does not have",
                            pattern, u.what),
                at});
        }
    }
    for (size_t at = pattern.find("(?"); at != std::string_view::npos;
         at = pattern.find("(?", at + 1)) {
        if (at > 0 && pattern[at - 1] == '\\') {
            continue;
        }
        char next = at + 2 < pattern.size() ? pattern[at + 2] : '\0';
        if (next != ':' && next != '=' && next != '!') {
            return std::unexpected(SpecSyntaxError{
                fmt::format("regular expression `{}` uses Python's inline flags `(?{}...)`, which "
                            "envpack's ECMAScript matcher does not have",
                            pattern, next),
                at});
        }
    }
    try {
        return std::make_shared<const std::regex>(std::string(pattern), std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        return std::unexpected(SpecSyntaxError{
            fmt::format("invalid regular expression `{}`: {}", pattern, e.what()), 0});
    }
}

std::expected<StringPattern, SpecSyntaxError> StringPattern::parse(std::string_view text,
                                                                   CaseFold fold) {
    StringPattern p;
    p.m_fold = fold;
    p.m_text = std::string(text);
    p.m_folded = fold == CaseFold::yes ? lower(text) : p.m_text;
    if (text.starts_with('^') || text.ends_with('$')) {
        if (!text.starts_with('^') || !text.ends_with('$') || text.size() < 2) {
            return std::unexpected(SpecSyntaxError{
                fmt::format("regular expression `{}` must start with `^` and end with `$`", text),
                text.starts_with('^') ? text.size() : 0});
        }
        auto re = compile_conda_regex(p.m_folded);
        if (!re) {
            return std::unexpected(re.error());
        }
        p.m_kind = Kind::regex;
        p.m_regex = std::move(*re);
    } else if (text.find('*') != std::string_view::npos) {
        p.m_kind = Kind::glob;
    }
    return p;
}

bool StringPattern::matches(std::string_view text) const {
    std::string folded;
    if (m_fold == CaseFold::yes) {
        folded = lower(text);
        text = folded;
    }
    switch (m_kind) {
        case Kind::exact:
            return text == m_folded;
        case Kind::glob:
            return glob_matches(m_folded, text);
        case Kind::regex:
            return std::regex_search(text.begin(), text.end(), *m_regex);
    }
    return false;
}

}  // namespace envpack
