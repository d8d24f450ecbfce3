#include "resolver/version_spec.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack {

namespace {

Error spec_error(std::string_view spec, std::string_view why) {
    return bad_input(fmt::format("invalid version spec `{}`: {}", spec, why),
                     "use e.g. 1.7, =1.7, 1.7.*, >=1.7,<2, 1.7|1.8, !=1.7.3 or ~=1.7.2");
}

}  // namespace

class VersionSpecParser {
  public:
    explicit VersionSpecParser(std::string_view whole) : m_whole(whole) {
        for (char c : whole) {
            if (!std::isspace(static_cast<unsigned char>(c))) {
                m_text.push_back(c);
            }
        }
    }

    VersionSpec parse() {
        if (m_text.empty()) {
            throw spec_error(m_whole, "empty");
        }
        VersionSpec spec = parse_or();
        if (m_pos != m_text.size()) {
            throw spec_error(m_whole, fmt::format("unexpected `{}`", m_text[m_pos]));
        }
        return spec;
    }

  private:
    VersionSpec parse_or() {
        std::vector<VersionSpec> parts{parse_and()};
        while (m_pos < m_text.size() && m_text[m_pos] == '|') {
            ++m_pos;
            parts.push_back(parse_and());
        }
        return combine(VersionSpec::Op::any_of, std::move(parts));
    }

    VersionSpec parse_and() {
        std::vector<VersionSpec> parts{parse_atom()};
        while (m_pos < m_text.size() && m_text[m_pos] == ',') {
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
        if (m_pos < m_text.size() && m_text[m_pos] == '(') {
            ++m_pos;
            VersionSpec inner = parse_or();
            if (m_pos >= m_text.size() || m_text[m_pos] != ')') {
                throw spec_error(m_whole, "missing `)`");
            }
            ++m_pos;
            return inner;
        }
        size_t end = m_pos;
        while (end < m_text.size() && m_text[end] != ',' && m_text[end] != '|' &&
               m_text[end] != ')' && m_text[end] != '(') {
            ++end;
        }
        std::string leaf = m_text.substr(m_pos, end - m_pos);
        m_pos = end;
        if (leaf.empty()) {
            throw spec_error(m_whole, "empty constraint");
        }
        return parse_leaf(leaf);
    }

    VersionSpec parse_leaf(std::string leaf) {
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
                    throw spec_error(m_whole, fmt::format("invalid operator in `{}`", leaf));
                }
                s.m_op = k_op_values[i];
                if (operand.ends_with(".*")) {
                    operand.resize(operand.size() - 2);
                    if (s.m_op == VersionSpec::Op::ne) {
                        s.m_op = VersionSpec::Op::not_starts_with;
                    } else if (s.m_op == VersionSpec::Op::compatible) {
                        throw spec_error(m_whole, "`~=` cannot be combined with `.*`");
                    }
                    // `=1.7.*` and `>=1.7.*` mean the same as without `.*` (conda).
                } else if (operand.ends_with("*") && s.m_op == VersionSpec::Op::ne) {
                    operand.pop_back();
                    s.m_op = VersionSpec::Op::not_starts_with;
                }
                s.m_version = parse_version(operand);
                return s;
            }
            throw spec_error(m_whole, fmt::format("invalid operator in `{}`", leaf));
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
            s.m_version = parse_version(stripped);
            return s;
        }
        if (leaf.front() == '^' || leaf.back() == '$') {
            throw spec_error(m_whole, "regular expressions are not supported");
        }
        s.m_op = VersionSpec::Op::eq;
        s.m_bare = true;
        s.m_version = parse_version(leaf);
        return s;
    }

    Version parse_version(std::string_view text) {
        Version v;
        if (!Version::try_parse(text, v)) {
            throw spec_error(m_whole, fmt::format("invalid version `{}`", text));
        }
        return v;
    }

    std::string_view m_whole;
    std::string m_text;
    size_t m_pos = 0;
};

VersionSpec VersionSpec::parse(std::string_view text) {
    return VersionSpecParser(text).parse();
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
