#include "resolver/version_spec.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack {

namespace {

constexpr std::string_view k_hint =
    "use e.g. 1.7, =1.7, 1.7.*, >=1.7,<2, 1.7|1.8, !=1.7.3, ~=1.7.2 or ^1\\.7\\.[0-9]+$";

struct Failure {
    SpecSyntaxError error;
};

[[noreturn]] void fail(std::string message, size_t offset) {
    throw Failure{SpecSyntaxError{std::move(message), offset}};
}

}  // namespace

class VersionSpecParser {
  public:
    VersionSpecParser(std::string_view text, std::vector<std::string>* warnings)
        : m_text(text), m_warnings(warnings) {}

    VersionSpec parse() {
        skip_space();
        if (m_pos == m_text.size()) {
            fail("empty", 0);
        }
        VersionSpec spec = parse_or();
        skip_space();
        if (m_pos != m_text.size()) {
            fail(fmt::format("unexpected `{}`", m_text[m_pos]), m_pos);
        }
        return spec;
    }

  private:
    void skip_space() {
        while (m_pos < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_pos]))) {
            ++m_pos;
        }
    }

    bool at(char c) {
        skip_space();
        return m_pos < m_text.size() && m_text[m_pos] == c;
    }

    VersionSpec parse_or() {
        std::vector<VersionSpec> parts{parse_and()};
        while (at('|')) {
            ++m_pos;
            parts.push_back(parse_and());
        }
        return combine(VersionSpec::Op::any_of, std::move(parts));
    }

    VersionSpec parse_and() {
        std::vector<VersionSpec> parts{parse_atom()};
        while (at(',')) {
            ++m_pos;
            parts.push_back(parse_atom());
        }
        return combine(VersionSpec::Op::all_of, std::move(parts));
    }

    static VersionSpec combine(VersionSpec::Op op, std::vector<VersionSpec> parts) {
        if (parts.size() == 1) {
            return std::move(parts.front());
        }
        VersionSpec s;
        s.m_op = op;
        s.m_children = std::move(parts);
        return s;
    }

    VersionSpec parse_atom() {
        if (at('(')) {
            size_t open = m_pos++;
            VersionSpec inner = parse_or();
            if (!at(')')) {
                fail("missing `)`", open);
            }
            ++m_pos;
            return inner;
        }
        if (at('^')) {
            // conda's tokenizer: a regex runs from `^` to the first `$`, whatever it holds.
            size_t start = m_pos;
            size_t dollar = m_text.find('$', start);
            if (dollar == std::string_view::npos) {
                fail("a regular expression must start with `^` and end with `$`", start);
            }
            m_pos = dollar + 1;
            return regex_leaf(start, m_text.substr(start, dollar + 1 - start));
        }
        size_t start = m_pos;
        std::string leaf;
        while (m_pos < m_text.size() &&
               std::string_view(",|()").find(m_text[m_pos]) == std::string_view::npos) {
            if (!std::isspace(static_cast<unsigned char>(m_text[m_pos]))) {
                leaf.push_back(m_text[m_pos]);
            }
            ++m_pos;
        }
        if (leaf.empty()) {
            fail("empty constraint", start);
        }
        if (leaf.find('^') != std::string::npos || leaf.back() == '$') {
            fail("a regular expression must start with `^` and end with `$`", start);
        }
        return parse_leaf(start, std::move(leaf));
    }

    VersionSpec regex_leaf(size_t start, std::string_view pattern) {
        auto re = compile_conda_regex(pattern);
        if (!re) {
            fail(re.error().message, start + re.error().offset);
        }
        VersionSpec s;
        s.m_op = VersionSpec::Op::regex;
        s.m_pattern = std::string(pattern);
        s.m_regex = std::move(*re);
        return s;
    }

    void warn(std::string message) {
        if (m_warnings != nullptr) {
            m_warnings->push_back(std::move(message));
        }
    }

    VersionSpec parse_leaf(size_t start, std::string leaf) {
        VersionSpec s;
        if (leaf == "*" || leaf == "*.*") {
            return s;
        }
        static constexpr std::string_view k_ops[] = {"==", "!=", "<=", ">=", "~=", "<", ">", "="};
        static constexpr VersionSpec::Op k_op_values[] = {
            VersionSpec::Op::eq, VersionSpec::Op::ne,         VersionSpec::Op::le,
            VersionSpec::Op::ge, VersionSpec::Op::compatible, VersionSpec::Op::lt,
            VersionSpec::Op::gt, VersionSpec::Op::starts_with};
        if (std::string_view("=<>!~").find(leaf.front()) != std::string_view::npos) {
            for (size_t i = 0; i < std::size(k_ops); ++i) {
                if (!leaf.starts_with(k_ops[i])) {
                    continue;
                }
                std::string operand = leaf.substr(k_ops[i].size());
                if (operand.empty() ||
                    std::string_view("=<>!~").find(operand.front()) != std::string_view::npos) {
                    fail(fmt::format("invalid operator in `{}`", leaf), start);
                }
                s.m_op = k_op_values[i];
                if (operand.ends_with(".*") ||
                    (operand.ends_with("*") && s.m_op == VersionSpec::Op::ne)) {
                    operand.resize(operand.size() - (operand.ends_with(".*") ? 2 : 1));
                    switch (s.m_op) {
                        case VersionSpec::Op::ne:
                            s.m_op = VersionSpec::Op::not_starts_with;
                            break;
                        case VersionSpec::Op::compatible:
                            fail("`~=` cannot be combined with `.*`", start);
                        case VersionSpec::Op::eq:
                            s.m_op = VersionSpec::Op::starts_with;
                            warn(
                                fmt::format("`{}` is read as the prefix `{}.*` (as CEP 29 and "
                                            "conda's libmamba solver read it); conda's classic "
                                            "solver reads it as `=={}` here",
                                            leaf, operand, operand));
                            break;
                        case VersionSpec::Op::lt:
                        case VersionSpec::Op::le:
                        case VersionSpec::Op::gt:
                            warn(
                                fmt::format("`.*` after a relational operator is ignored, as conda "
                                            "ignores it (with a deprecation warning): `{}` is read "
                                            "as `{}{}`",
                                            leaf, k_ops[i], operand));
                            break;
                        default:
                            break;  // `=1.7.*` and `>=1.7.*` mean the same as without `.*`
                    }
                }
                s.m_version = parse_version(start, operand);
                return s;
            }
            fail(fmt::format("invalid operator in `{}`", leaf), start);
        }
        std::string_view stripped = leaf;
        while (!stripped.empty() && stripped.back() == '*') {
            stripped.remove_suffix(1);
        }
        if (stripped.find('*') != std::string_view::npos) {
            s.m_op = VersionSpec::Op::glob;
            for (char c : leaf) {
                s.m_pattern.push_back(
                    static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
            }
            return s;
        }
        if (leaf.back() == '*') {
            if (stripped.ends_with(".")) {
                stripped.remove_suffix(1);
            }
            s.m_op = VersionSpec::Op::starts_with;
            s.m_version = parse_version(start, stripped);
            return s;
        }
        s.m_op = VersionSpec::Op::eq;
        s.m_bare = true;
        s.m_version = parse_version(start, leaf);
        return s;
    }

    Version parse_version(size_t start, std::string_view text) {
        Version v;
        if (!Version::try_parse(text, v)) {
            fail(fmt::format("invalid version `{}`", text), start);
        }
        return v;
    }

    std::string_view m_text;
    std::vector<std::string>* m_warnings;
    size_t m_pos = 0;
};

std::expected<VersionSpec, SpecSyntaxError> VersionSpec::try_parse(
    std::string_view text, std::vector<std::string>* warnings) {
    try {
        return VersionSpecParser(text, warnings).parse();
    } catch (const Failure& f) {
        return std::unexpected(f.error);
    }
}

VersionSpec VersionSpec::parse(std::string_view text) {
    auto spec = try_parse(text);
    if (!spec) {
        throw bad_input(fmt::format("invalid version spec `{}`: {} (at offset {})", text,
                                    spec.error().message, spec.error().offset),
                        std::string(k_hint));
    }
    return std::move(*spec);
}

bool VersionSpec::matches(const Version& v) const {
    switch (m_op) {
        case Op::any:
            return true;
        case Op::eq:
            return v == m_version;
        case Op::ne:
            return v != m_version;
        case Op::lt:
            return v < m_version;
        case Op::le:
            return v <= m_version;
        case Op::gt:
            return v > m_version;
        case Op::ge:
            return v >= m_version;
        case Op::starts_with:
            return v.starts_with(m_version);
        case Op::not_starts_with:
            return !v.starts_with(m_version);
        case Op::compatible:
            return v.compatible_with(m_version);
        case Op::glob:
            return glob_matches(m_pattern, v.normalized());
        case Op::regex:
            return std::regex_search(v.to_string(), *m_regex);
        case Op::all_of:
            return std::all_of(m_children.begin(), m_children.end(),
                               [&](const VersionSpec& c) { return c.matches(v); });
        case Op::any_of:
            return std::any_of(m_children.begin(), m_children.end(),
                               [&](const VersionSpec& c) { return c.matches(v); });
    }
    return false;
}

std::string VersionSpec::to_string() const {
    const std::string& v = m_version.to_string();
    switch (m_op) {
        case Op::any:
            return "*";
        case Op::eq:
            return m_bare ? v : "==" + v;
        case Op::ne:
            return "!=" + v;
        case Op::lt:
            return "<" + v;
        case Op::le:
            return "<=" + v;
        case Op::gt:
            return ">" + v;
        case Op::ge:
            return ">=" + v;
        case Op::starts_with:
            return v + ".*";
        case Op::not_starts_with:
            return "!=" + v + ".*";
        case Op::compatible:
            return "~=" + v;
        case Op::glob:
        case Op::regex:
            return m_pattern;
        case Op::all_of: {
            std::string out;
            for (const auto& c : m_children) {
                if (!out.empty()) {
                    out += ",";
                }
                out += c.m_op == Op::any_of ? "(" + c.to_string() + ")" : c.to_string();
            }
            return out;
        }
        case Op::any_of: {
            std::string out;
            for (const auto& c : m_children) {
                if (!out.empty()) {
                    out += "|";
                }
                out += c.to_string();
            }
            return out;
        }
    }
    return "*";
}

bool glob_matches(std::string_view pattern, std::string_view text) {
    if (pattern.find('*') == std::string_view::npos) {
        return pattern == text;
    }
    size_t p = 0;
    size_t t = 0;
    size_t star = std::string_view::npos;
    size_t mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] != '*' && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

}  // namespace envpack
