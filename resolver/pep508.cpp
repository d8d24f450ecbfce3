#include "resolver/pep508.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack::pep508 {
namespace {

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
// A regex word character (`\w` on ASCII).
bool is_word(char c) {
    return is_alnum(c) || c == '_';
}
bool is_ws(char c) {
    return c == ' ' || c == '\t';
}

// A tokenizer in the shape of packaging's: each check matches a token at the current position.
class Tokens {
  public:
    explicit Tokens(std::string_view s) : m_s(s) {}

    size_t pos() const { return m_pos; }
    bool at_end() const { return m_pos >= m_s.size(); }
    char peek(size_t ahead = 0) const {
        return m_pos + ahead < m_s.size() ? m_s[m_pos + ahead] : '\0';
    }
    std::string_view rest() const { return m_s.substr(m_pos); }

    bool consume_ws() {
        const size_t start = m_pos;
        while (is_ws(peek())) {
            ++m_pos;
        }
        return m_pos != start;
    }
    bool consume(char c) {
        if (peek() == c) {
            ++m_pos;
            return true;
        }
        return false;
    }
    // A word boundary (`\b`) at offset `at`.
    bool boundary(size_t at) const {
        const bool before = at > 0 && at <= m_s.size() && is_word(m_s[at - 1]);
        const bool after = at < m_s.size() && is_word(m_s[at]);
        return before != after;
    }
    // `\bWORD\b`.
    bool keyword(std::string_view word) {
        if (!boundary(m_pos) || !rest().starts_with(word) || !boundary(m_pos + word.size())) {
            return false;
        }
        m_pos += word.size();
        return true;
    }
    // packaging's IDENTIFIER: `\b[a-zA-Z0-9][a-zA-Z0-9._-]*\b`, backing off to a boundary.
    std::optional<std::string_view> identifier() {
        if (!is_alnum(peek()) || !boundary(m_pos)) {
            return std::nullopt;
        }
        size_t end = m_pos + 1;
        while (end < m_s.size() &&
               (is_alnum(m_s[end]) || m_s[end] == '.' || m_s[end] == '_' || m_s[end] == '-')) {
            ++end;
        }
        while (!boundary(end)) {
            --end;  // stops at the latest past the first character, which is a word character
        }
        std::string_view out = m_s.substr(m_pos, end - m_pos);
        m_pos = end;
        return out;
    }
    // A run of characters up to one of `stops` (or the end).
    std::string_view until_any(std::string_view stops) {
        const size_t start = m_pos;
        while (!at_end() && stops.find(peek()) == std::string_view::npos) {
            ++m_pos;
        }
        return m_s.substr(start, m_pos - start);
    }
    void set_pos(size_t p) { m_pos = p; }

  private:
    std::string_view m_s;
    size_t m_pos = 0;
};

struct Failure {
    SyntaxError error;
};

[[noreturn]] void fail(const Tokens& t, std::string message) {
    throw Failure{SyntaxError{std::move(message), t.pos()}};
}

// The marker variables packaging knows, spelled as written, and the name each stands for.
std::optional<std::string> variable(Tokens& t) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 18> k_vars{{
        {"python_version", "python_version"},
        {"python_full_version", "python_full_version"},
        {"os_name", "os_name"},
        {"os.name", "os_name"},
        {"sys_platform", "sys_platform"},
        {"sys.platform", "sys_platform"},
        {"platform_release", "platform_release"},
        {"platform_system", "platform_system"},
        {"platform_version", "platform_version"},
        {"platform.version", "platform_version"},
        {"platform_machine", "platform_machine"},
        {"platform.machine", "platform_machine"},
        {"platform_python_implementation", "platform_python_implementation"},
        {"platform.python_implementation", "platform_python_implementation"},
        {"python_implementation", "platform_python_implementation"},
        {"implementation_name", "implementation_name"},
        {"implementation_version", "implementation_version"},
        {"extra", "extra"},
    }};
    for (const auto& [spelling, name] : k_vars) {
        if (t.keyword(spelling)) {
            return std::string(name);
        }
    }
    return std::nullopt;
}

Marker::Operand operand(Tokens& t) {
    if (auto name = variable(t)) {
        return {Marker::Operand::Kind::variable, *name};
    }
    const char quote = t.peek();
    if (quote == '"' || quote == '\'') {
        const size_t start = t.pos();
        t.consume(quote);
        std::string_view text = t.until_any(std::string_view(&quote, 1));
        if (!t.consume(quote)) {
            t.set_pos(start);
            fail(t, "Expected a marker variable or quoted string (unterminated string)");
        }
        if (text.find('\\') != std::string_view::npos) {
            t.set_pos(start);
            fail(t, "backslash escapes in marker strings are not supported");
        }
        return {Marker::Operand::Kind::literal, std::string(text)};
    }
    fail(t, "Expected a marker variable or quoted string");
}

MarkerOp marker_op(Tokens& t) {
    if (t.keyword("in")) {
        return MarkerOp::in;
    }
    if (t.keyword("not")) {
        if (!t.consume_ws()) {
            fail(t, "Expected whitespace after 'not'");
        }
        if (!t.keyword("in")) {
            fail(t, "Expected 'in' after 'not'");
        }
        return MarkerOp::not_in;
    }
    static constexpr std::array<std::pair<std::string_view, MarkerOp>, 8> k_ops{{
        {"===", MarkerOp::arbitrary},
        {"==", MarkerOp::equal},
        {"~=", MarkerOp::compatible},
        {"!=", MarkerOp::not_equal},
        {"<=", MarkerOp::less_equal},
        {">=", MarkerOp::greater_equal},
        {"<", MarkerOp::less},
        {">", MarkerOp::greater},
    }};
    for (const auto& [spelling, op] : k_ops) {
        if (t.rest().starts_with(spelling)) {
            t.set_pos(t.pos() + spelling.size());
            return op;
        }
    }
    fail(t, "Expected marker operator, one of <=, <, !=, ==, >=, >, ~=, ===, in, not in");
}

Marker::Group marker_group(Tokens& t);

Marker::Item marker_atom(Tokens& t) {
    t.consume_ws();
    Marker::Item item;
    if (t.peek() == '(') {
        const size_t open = t.pos();
        t.consume('(');
        t.consume_ws();
        item.group.push_back(marker_group(t));
        t.consume_ws();
        if (!t.consume(')')) {
            fail(t, fmt::format("Expected matching RIGHT_PARENTHESIS for LEFT_PARENTHESIS at "
                                "offset {}, after marker",
                                open));
        }
    } else {
        const size_t start = t.pos();
        Marker::Comparison c;
        c.lhs = operand(t);
        t.consume_ws();
        c.op = marker_op(t);
        t.consume_ws();
        c.rhs = operand(t);
        if (c.lhs.kind == c.rhs.kind) {
            t.set_pos(start);
            fail(t, c.lhs.kind == Marker::Operand::Kind::variable
                        ? "a marker compares a variable with a quoted string, not two variables"
                        : "a marker compares a variable with a quoted string, not two strings");
        }
        // PEP 685: extra names compare normalised.
        if (c.lhs.kind == Marker::Operand::Kind::variable && c.lhs.text == "extra") {
            c.rhs.text = normalize_name(c.rhs.text);
        } else if (c.rhs.kind == Marker::Operand::Kind::variable && c.rhs.text == "extra") {
            c.lhs.text = normalize_name(c.lhs.text);
        }
        item.comparison = std::move(c);
    }
    t.consume_ws();
    return item;
}

Marker::Group marker_group(Tokens& t) {
    Marker::Group g;
    g.items.push_back(marker_atom(t));
    while (true) {
        if (t.keyword("and")) {
            g.joins.push_back(Marker::Join::and_);
        } else if (t.keyword("or")) {
            g.joins.push_back(Marker::Join::or_);
        } else {
            break;
        }
        g.items.push_back(marker_atom(t));
    }
    return g;
}

// packaging's _format_marker: groups of one item print without parentheses.
std::string format_group(const Marker::Group& g, bool first);

std::string format_item(const Marker::Item& item, bool first) {
    if (item.comparison) {
        const auto& c = *item.comparison;
        auto side = [](const Marker::Operand& o) {
            return o.kind == Marker::Operand::Kind::variable ? o.text
                                                             : fmt::format("\"{}\"", o.text);
        };
        return fmt::format("{} {} {}", side(c.lhs), to_string(c.op), side(c.rhs));
    }
    return format_group(item.group.front(), first);
}

std::string format_group(const Marker::Group& g, bool first) {
    if (g.items.size() == 1) {
        return format_item(g.items.front(), true);
    }
    std::string out;
    for (size_t k = 0; k < g.items.size(); ++k) {
        if (k > 0) {
            out += g.joins[k - 1] == Marker::Join::and_ ? " and " : " or ";
        }
        out += format_item(g.items[k], false);
    }
    return first ? out : fmt::format("({})", out);
}

const std::string& lookup(const Environment& env, const std::string& name) {
    auto known = [&](const std::optional<std::string>& value) -> const std::string& {
        if (!value) {
            throw bad_input(
                fmt::format("the environment marker variable `{}` is not known for the target "
                            "image",
                            name),
                "it describes the kernel of the machine the image will run on, which is "
                "unknown when the image is built; drop the marker or the requirement");
        }
        return *value;
    };
    if (name == "implementation_name")
        return env.implementation_name;
    if (name == "implementation_version")
        return known(env.implementation_version);
    if (name == "os_name")
        return env.os_name;
    if (name == "platform_machine")
        return env.platform_machine;
    if (name == "platform_release")
        return known(env.platform_release);
    if (name == "platform_system")
        return env.platform_system;
    if (name == "platform_version")
        return known(env.platform_version);
    if (name == "python_full_version")
        return env.python_full_version;
    if (name == "platform_python_implementation")
        return env.platform_python_implementation;
    if (name == "python_version")
        return env.python_version;
    if (name == "sys_platform")
        return env.sys_platform;
    throw internal_error(fmt::format("unknown marker variable `{}`", name));
}

bool compare(const std::string& lhs, MarkerOp op, const std::string& rhs, bool as_text) {
    if (!as_text && op != MarkerOp::in && op != MarkerOp::not_in) {
        // A version comparison when `op rhs` is a specifier, pre-releases allowed.
        if (auto spec = pep440::Specifier::try_parse(fmt::format("{}{}", to_string(op), rhs))) {
            auto version = pep440::Version::try_parse(lhs);
            if (!version) {
                throw bad_input(
                    fmt::format("environment marker: `{}` {} `{}` compares versions, "
                                "but `{}` is not a version",
                                lhs, to_string(op), rhs, lhs));
            }
            return spec->contains(*version, pep440::PreReleases::allow);
        }
    }
    switch (op) {
        case MarkerOp::in:
            return rhs.find(lhs) != std::string::npos;
        case MarkerOp::not_in:
            return rhs.find(lhs) == std::string::npos;
        case MarkerOp::less:
            return lhs < rhs;
        case MarkerOp::less_equal:
            return lhs <= rhs;
        case MarkerOp::equal:
            return lhs == rhs;
        case MarkerOp::not_equal:
            return lhs != rhs;
        case MarkerOp::greater_equal:
            return lhs >= rhs;
        case MarkerOp::greater:
            return lhs > rhs;
        case MarkerOp::compatible:
        case MarkerOp::arbitrary:
            break;
    }
    throw bad_input(fmt::format("environment marker: `{}` {} `{}` is undefined on strings", lhs,
                                to_string(op), rhs));
}

bool evaluate_group(const Marker::Group& g, const Environment& env, const std::string& extra);

bool evaluate_item(const Marker::Item& item, const Environment& env, const std::string& extra) {
    if (!item.comparison) {
        return evaluate_group(item.group.front(), env, extra);
    }
    const auto& c = *item.comparison;
    const bool left_is_var = c.lhs.kind == Marker::Operand::Kind::variable;
    const std::string& name = left_is_var ? c.lhs.text : c.rhs.text;
    const std::string& value = name == "extra" ? extra : lookup(env, name);
    const std::string& lhs = left_is_var ? value : c.lhs.text;
    const std::string& rhs = left_is_var ? c.rhs.text : value;
    // Extra names are names, never versions (packaging would read `extra == "1"` as a version).
    return compare(lhs, c.op, rhs, name == "extra");
}

// `and` binds tighter than `or`. Every item is evaluated, as packaging does, so a marker that
// cannot be evaluated fails the same way whatever its other items say.
bool evaluate_group(const Marker::Group& g, const Environment& env, const std::string& extra) {
    bool any = false;
    bool all = true;
    for (size_t k = 0; k < g.items.size(); ++k) {
        if (k > 0 && g.joins[k - 1] == Marker::Join::or_) {
            any = any || all;
            all = true;
        }
        const bool value = evaluate_item(g.items[k], env, extra);
        all = all && value;
    }
    return any || all;
}

void expect_end(Tokens& t, std::string_view after) {
    if (!t.at_end()) {
        fail(t, fmt::format("Expected end or semicolon (after {})", after));
    }
}

// `file:` URLs must be `file://...`; others need a scheme and a host (packaging's rule).
bool valid_url(std::string_view url) {
    const size_t colon = url.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return false;
    }
    std::string_view scheme = url.substr(0, colon);
    if (!std::all_of(scheme.begin(), scheme.end(),
                     [](char c) { return is_alnum(c) || c == '+' || c == '-' || c == '.'; })) {
        return false;
    }
    std::string_view rest = url.substr(colon + 1);
    if (scheme == "file") {
        return rest.starts_with("//");
    }
    if (!rest.starts_with("//")) {
        return false;
    }
    rest.remove_prefix(2);
    return !rest.empty() && rest.front() != '/' && rest.front() != '?' && rest.front() != '#';
}

Requirement parse_requirement(std::string_view text) {
    Tokens t(text);
    Requirement r;
    t.consume_ws();
    auto name = t.identifier();
    if (!name) {
        fail(t, "Expected package name at the start of dependency specifier");
    }
    r.name = std::string(*name);
    t.consume_ws();
    if (t.peek() == '[') {
        const size_t open = t.pos();
        t.consume('[');
        t.consume_ws();
        if (auto first = t.identifier()) {
            r.extras.emplace_back(*first);
            while (true) {
                t.consume_ws();
                if (const size_t at = t.pos(); t.identifier()) {
                    t.set_pos(at);
                    fail(t, "Expected comma between extra names");
                }
                if (!t.consume(',')) {
                    break;
                }
                t.consume_ws();
                auto extra = t.identifier();
                if (!extra) {
                    fail(t, "Expected extra name after comma");
                }
                r.extras.emplace_back(*extra);
            }
        }
        t.consume_ws();
        if (!t.consume(']')) {
            fail(t, fmt::format("Expected matching RIGHT_BRACKET for LEFT_BRACKET at offset {}, "
                                "after extras",
                                open));
        }
    }
    t.consume_ws();
    std::string_view after = "name and no valid version specifier";
    if (t.consume('@')) {
        t.consume_ws();
        const size_t url_start = t.pos();
        r.url = std::string(t.until_any(" \t"));
        if (r.url.empty()) {
            fail(t, "Expected URL after @");
        }
        if (!valid_url(r.url)) {
            t.set_pos(url_start);
            fail(t, fmt::format("Invalid URL: {}", r.url));
        }
        if (t.at_end()) {
            return r;
        }
        t.consume_ws();
        if (t.at_end()) {
            return r;
        }
        after = "URL and whitespace";
    } else {
        const bool parenthesised = t.peek() == '(';
        const size_t open = t.pos();
        if (parenthesised) {
            t.consume('(');
        }
        t.consume_ws();
        std::string specifiers;
        while (t.peek() == '~' || t.peek() == '=' || t.peek() == '!' || t.peek() == '<' ||
               t.peek() == '>') {
            const size_t start = t.pos();
            while (t.peek() == '~' || t.peek() == '=' || t.peek() == '!' || t.peek() == '<' ||
                   t.peek() == '>') {
                t.set_pos(t.pos() + 1);
            }
            const bool arbitrary = text.substr(start, t.pos() - start) == "===";
            t.consume_ws();
            // packaging reads an `===` operand up to whitespace, `;` or `)`, commas included.
            t.until_any(arbitrary ? " \t;)" : " \t,;)");
            const std::string_view clause = text.substr(start, t.pos() - start);
            if (!pep440::SpecifierSet::try_parse(clause)) {
                t.set_pos(start);
                try {
                    pep440::SpecifierSet::parse(clause);
                } catch (const Error& e) {
                    fail(t, e.what());
                }
            }
            specifiers += std::string(clause);
            t.consume_ws();
            if (!t.consume(',')) {
                break;
            }
            specifiers += ',';
            t.consume_ws();
        }
        t.consume_ws();
        if (parenthesised && !t.consume(')')) {
            fail(t, fmt::format("Expected matching RIGHT_PARENTHESIS for LEFT_PARENTHESIS at "
                                "offset {}, after version specifier",
                                open));
        }
        r.specifier = pep440::SpecifierSet::parse(specifiers);
        t.consume_ws();
        if (!specifiers.empty()) {
            after = "version specifier";
        }
    }
    if (t.at_end()) {
        return r;
    }
    if (!t.consume(';')) {
        fail(t, fmt::format("Expected end or semicolon (after {})", after));
    }
    Marker m(marker_group(t));
    t.consume_ws();
    expect_end(t, "marker");
    r.marker = std::move(m);
    return r;
}

}  // namespace

std::string normalize_name(std::string_view name) {
    std::string out;
    out.reserve(name.size());
    bool in_sep = false;
    for (char c : name) {
        if (c == '-' || c == '_' || c == '.') {
            in_sep = true;
            continue;
        }
        if (in_sep) {
            out += '-';
            in_sep = false;
        }
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    if (in_sep) {
        out += '-';
    }
    return out;
}

bool is_valid_name(std::string_view name) {
    if (name.empty() || !is_alnum(name.front()) || !is_alnum(name.back())) {
        return false;
    }
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

std::optional<std::string> Environment::machine_for(std::string_view conda_platform) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 6> k_machines{{
        {"linux-64", "x86_64"},
        {"linux-aarch64", "aarch64"},
        {"linux-ppc64le", "ppc64le"},
        {"linux-s390x", "s390x"},
        {"linux-32", "i686"},
        {"linux-armv7l", "armv7l"},
    }};
    for (const auto& [platform, machine] : k_machines) {
        if (platform == conda_platform) {
            return std::string(machine);
        }
    }
    return std::nullopt;
}

Environment Environment::for_target(const pep440::Version& python, std::string_view conda_platform,
                                    std::string_view implementation) {
    Environment env;
    auto machine = machine_for(conda_platform);
    if (!machine) {
        throw bad_input(
            fmt::format("pip packages cannot be resolved for the platform `{}`", conda_platform),
            "images are Linux: use linux-64, linux-aarch64, linux-ppc64le, linux-s390x, linux-32 "
            "or linux-armv7l");
    }
    env.platform_machine = *machine;
    if (python.release().size() < 2) {
        throw bad_input(
            fmt::format("the python version `{}` has no minor version", python.to_string()));
    }
    env.python_version = fmt::format("{}.{}", python.release()[0], python.release()[1]);
    env.python_full_version = python.public_version().to_string();
    if (implementation == "cpython") {
        env.implementation_name = "cpython";
        env.platform_python_implementation = "CPython";
        env.implementation_version = env.python_full_version;
    } else if (implementation == "pypy") {
        env.implementation_name = "pypy";
        env.platform_python_implementation = "PyPy";
        env.implementation_version.reset();  // PyPy's own version, not its language version
    } else {
        throw bad_input(fmt::format("unknown Python implementation `{}`", implementation),
                        "use cpython or pypy");
    }
    return env;
}

std::string_view to_string(MarkerOp op) {
    static constexpr std::array<std::string_view, 10> k_names{
        "<", "<=", "==", "!=", ">=", ">", "~=", "===", "in", "not in"};
    return k_names[static_cast<size_t>(op)];
}

std::expected<Marker, SyntaxError> Marker::try_parse(std::string_view text) {
    Tokens t(text);
    try {
        Marker m(marker_group(t));
        t.consume_ws();
        if (!t.at_end()) {
            fail(t, "Expected `and`, `or` or the end of the marker");
        }
        return m;
    } catch (const Failure& f) {
        return std::unexpected(f.error);
    }
}

Marker Marker::parse(std::string_view text) {
    auto m = try_parse(text);
    if (!m) {
        throw bad_input(fmt::format("invalid environment marker: {}", describe(m.error(), text)));
    }
    return std::move(*m);
}

std::string Marker::to_string() const {
    return format_group(m_root, true);
}

bool Marker::evaluate(const Environment& env, std::string_view extra) const {
    return evaluate_group(m_root, env, normalize_name(extra));
}

std::expected<Requirement, SyntaxError> Requirement::try_parse(std::string_view text) {
    try {
        return parse_requirement(text);
    } catch (const Failure& f) {
        return std::unexpected(f.error);
    }
}

Requirement Requirement::parse(std::string_view text) {
    auto r = try_parse(text);
    if (!r) {
        throw bad_input(fmt::format("invalid requirement: {}", describe(r.error(), text)),
                        "requirements follow PEP 508: `name[extra,...] >=1.0,<2; marker` or "
                        "`name @ https://host/file.whl`");
    }
    return std::move(*r);
}

std::string Requirement::to_string() const {
    std::string out = name;
    if (!extras.empty()) {
        std::vector<std::string> sorted = extras;
        std::sort(sorted.begin(), sorted.end());
        sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
        out += fmt::format("[{}]", fmt::join(sorted, ","));
    }
    out += specifier.to_string();
    if (!url.empty()) {
        out += fmt::format("@ {}", url);
        if (marker) {
            out += ' ';
        }
    }
    if (marker) {
        out += fmt::format("; {}", marker->to_string());
    }
    return out;
}

bool Requirement::applies(const Environment& env,
                          const std::vector<std::string>& parent_extras) const {
    if (!marker) {
        return true;
    }
    if (parent_extras.empty()) {
        return marker->evaluate(env, "");
    }
    return std::any_of(parent_extras.begin(), parent_extras.end(),
                       [&](const std::string& e) { return marker->evaluate(env, e); });
}

std::string describe(const SyntaxError& error, std::string_view text) {
    const size_t at = std::min(error.offset, text.size());
    return fmt::format("{}\n    {}\n    {}^", error.message, text, std::string(at, ' '));
}

}  // namespace envpack::pep508
