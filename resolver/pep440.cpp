#include "resolver/pep440.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack::pep440 {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_sep(char c) {
    return c == '.' || c == '-' || c == '_';
}
char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
std::string lowered(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}
std::string_view strip(std::string_view s) {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// A cursor over the lower-cased version text. Each step either consumes what it recognises and
// returns true, or leaves the position as it was.
struct Cursor {
    std::string_view s;
    size_t i = 0;
    bool overflow = false;

    char peek(size_t ahead = 0) const { return i + ahead < s.size() ? s[i + ahead] : '\0'; }
    bool at_end() const { return i >= s.size(); }

    bool number(std::uint64_t& out) {
        if (!is_digit(peek())) {
            return false;
        }
        std::uint64_t value = 0;
        while (is_digit(peek())) {
            const auto digit = static_cast<std::uint64_t>(s[i] - '0');
            if (value > (UINT64_MAX - digit) / 10) {
                overflow = true;
            }
            value = value * 10 + digit;
            ++i;
        }
        out = value;
        return true;
    }
    // Consumes the longest of `words` found here; returns its index.
    template <size_t N>
    std::optional<size_t> word(const std::array<std::string_view, N>& words) {
        for (size_t k = 0; k < N; ++k) {
            if (s.substr(i).starts_with(words[k])) {
                i += words[k].size();
                return k;
            }
        }
        return std::nullopt;
    }
};

// A label's optional trailing `[-_.]?N?`: the separator is taken only with a number after it.
std::uint64_t label_number(Cursor& c) {
    std::uint64_t n = 0;
    if (is_sep(c.peek()) && is_digit(c.peek(1))) {
        ++c.i;
    }
    c.number(n);
    return n;
}

// A label without a number (`a`, `post`, `dev`) may keep its own trailing separator where no
// number follows: before another separator, a `+` or the end (`1.0a.-dev`, `1.0b.`, `1.0-dev-`).
// Before a letter the separator is the next part's.
void skip_bare_label_sep(Cursor& c, bool bare_label) {
    const char next = c.peek(1);
    const bool alnum = (next >= 'a' && next <= 'z') || is_digit(next);
    if (bare_label && is_sep(c.peek()) && !alnum) {
        ++c.i;
    }
}

// Orders local parts as packaging does: a string sorts before any number.
std::strong_ordering compare_local_part(const Version::LocalPart& a, const Version::LocalPart& b) {
    if (a.index() != b.index()) {
        return a.index() == 1 ? std::strong_ordering::less : std::strong_ordering::greater;
    }
    if (a.index() == 0) {
        return std::get<0>(a) <=> std::get<0>(b);
    }
    return std::get<1>(a).compare(std::get<1>(b)) <=> 0;
}

}  // namespace

std::optional<Version> Version::try_parse(std::string_view text) {
    const std::string low = lowered(strip(text));
    Cursor c{low};
    Version v;
    if (c.peek() == 'v') {
        ++c.i;
    }
    // Epoch and release: N! first, then N(.N)*.
    std::uint64_t n = 0;
    if (!c.number(n)) {
        return std::nullopt;
    }
    if (c.peek() == '!') {
        ++c.i;
        v.m_epoch = n;
        if (!c.number(n)) {
            return std::nullopt;
        }
    }
    v.m_release = {n};
    while (c.peek() == '.' && is_digit(c.peek(1))) {
        ++c.i;
        c.number(n);
        v.m_release.push_back(n);
    }
    bool bare = false;
    // Pre-release: [-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?N?
    {
        const size_t start = c.i;
        if (is_sep(c.peek())) {
            ++c.i;
        }
        static constexpr std::array<std::string_view, 8> k_pre{"preview", "alpha", "beta", "pre",
                                                               "rc",      "a",     "b",    "c"};
        static constexpr std::array<PreKind, 8> k_pre_kind{PreKind::rc, PreKind::a,  PreKind::b,
                                                           PreKind::rc, PreKind::rc, PreKind::a,
                                                           PreKind::b,  PreKind::rc};
        if (auto k = c.word(k_pre)) {
            const size_t before = c.i;
            v.m_pre = Pre{k_pre_kind[*k], label_number(c)};
            bare = c.i == before;
        } else {
            c.i = start;
        }
    }
    // Post-release: -N, or [-_.]?(post|rev|r)[-_.]?N?
    {
        skip_bare_label_sep(c, bare);
        const size_t start = c.i;
        if (c.peek() == '-' && is_digit(c.peek(1))) {
            ++c.i;
            c.number(n);
            v.m_post = n;
            bare = false;
        } else {
            if (is_sep(c.peek())) {
                ++c.i;
            }
            static constexpr std::array<std::string_view, 3> k_post{"post", "rev", "r"};
            if (c.word(k_post)) {
                const size_t before = c.i;
                v.m_post = label_number(c);
                bare = c.i == before;
            } else {
                c.i = start;
            }
        }
    }
    // Development release: [-_.]?dev[-_.]?N?
    {
        skip_bare_label_sep(c, bare);
        const size_t start = c.i;
        if (is_sep(c.peek())) {
            ++c.i;
        }
        static constexpr std::array<std::string_view, 1> k_dev{"dev"};
        if (c.word(k_dev)) {
            const size_t before = c.i;
            v.m_dev = label_number(c);
            skip_bare_label_sep(c, c.i == before);
        } else {
            c.i = start;
        }
    }
    // Local version: +[a-z0-9]+([-_.][a-z0-9]+)*
    if (c.peek() == '+') {
        ++c.i;
        while (true) {
            const size_t start = c.i;
            while (is_digit(c.peek()) || (c.peek() >= 'a' && c.peek() <= 'z')) {
                ++c.i;
            }
            if (c.i == start) {
                return std::nullopt;
            }
            std::string_view part = c.s.substr(start, c.i - start);
            if (std::all_of(part.begin(), part.end(), is_digit)) {
                Cursor digits{part};
                std::uint64_t value = 0;
                digits.number(value);
                c.overflow = c.overflow || digits.overflow;
                v.m_local.emplace_back(value);
            } else {
                v.m_local.emplace_back(std::string(part));
            }
            if (!is_sep(c.peek())) {
                break;
            }
            ++c.i;
        }
    }
    if (!c.at_end() || c.overflow) {
        return std::nullopt;
    }
    return v;
}

Version Version::parse(std::string_view text) {
    if (auto v = try_parse(text)) {
        return *v;
    }
    throw bad_input(fmt::format("invalid Python package version `{}`", text),
                    "versions follow PEP 440: [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], "
                    "numbers below 2^64");
}

std::string Version::to_string() const {
    std::string out;
    if (m_epoch != 0) {
        out += fmt::format("{}!", m_epoch);
    }
    out += fmt::format("{}", fmt::join(m_release, "."));
    if (m_pre) {
        static constexpr std::array<std::string_view, 3> k_names{"a", "b", "rc"};
        out += fmt::format("{}{}", k_names[static_cast<size_t>(m_pre->kind)], m_pre->number);
    }
    if (m_post) {
        out += fmt::format(".post{}", *m_post);
    }
    if (m_dev) {
        out += fmt::format(".dev{}", *m_dev);
    }
    for (size_t k = 0; k < m_local.size(); ++k) {
        out += k == 0 ? '+' : '.';
        std::visit([&](const auto& part) { out += fmt::format("{}", part); }, m_local[k]);
    }
    return out;
}

Version Version::public_version() const {
    Version out = *this;
    out.m_local.clear();
    return out;
}

Version Version::base_version() const {
    Version out;
    out.m_epoch = m_epoch;
    out.m_release = m_release;
    return out;
}

std::strong_ordering Version::operator<=>(const Version& other) const {
    if (auto c = m_epoch <=> other.m_epoch; c != 0) {
        return c;
    }
    // Release, trailing zeros ignored.
    auto significant = [](const std::vector<std::uint64_t>& r) {
        size_t n = r.size();
        while (n > 0 && r[n - 1] == 0) {
            --n;
        }
        return n;
    };
    const size_t na = significant(m_release);
    const size_t nb = significant(other.m_release);
    for (size_t k = 0; k < std::min(na, nb); ++k) {
        if (auto c = m_release[k] <=> other.m_release[k]; c != 0) {
            return c;
        }
    }
    if (auto c = na <=> nb; c != 0) {
        return c;
    }
    // Pre-release: a dev release of a final sorts before its pre-releases; a final after them.
    // Ranks: 0 = that dev-only case, 1 = a pre-release (then by kind and number), 2 = none.
    auto pre_rank = [](const Version& v) {
        if (!v.m_pre && !v.m_post && v.m_dev) {
            return 0;
        }
        return v.m_pre ? 1 : 2;
    };
    const int ra = pre_rank(*this);
    const int rb = pre_rank(other);
    if (auto c = ra <=> rb; c != 0) {
        return c;
    }
    if (ra == 1) {
        if (auto c = *m_pre <=> *other.m_pre; c != 0) {
            return c;
        }
    }
    // Post-release: none before any.
    if (auto c = m_post.has_value() <=> other.m_post.has_value(); c != 0) {
        return c;
    }
    if (m_post) {
        if (auto c = *m_post <=> *other.m_post; c != 0) {
            return c;
        }
    }
    // Development release: any before none.
    if (auto c = other.m_dev.has_value() <=> m_dev.has_value(); c != 0) {
        return c;
    }
    if (m_dev) {
        if (auto c = *m_dev <=> *other.m_dev; c != 0) {
            return c;
        }
    }
    // Local: none before any, then part by part, a shorter prefix first.
    for (size_t k = 0; k < std::min(m_local.size(), other.m_local.size()); ++k) {
        if (auto c = compare_local_part(m_local[k], other.m_local[k]); c != 0) {
            return c;
        }
    }
    return m_local.size() <=> other.m_local.size();
}

std::string_view to_string(Operator op) {
    static constexpr std::array<std::string_view, 8> k_ops{
        "~=", "==", "!=", "<=", ">=", "<", ">", "==="};
    return k_ops[static_cast<size_t>(op)];
}

namespace {

// `candidate` starts with `epoch!prefix` once its release is padded with zeros (`==1.0.*`).
bool prefix_matches(const Version& candidate, std::uint64_t epoch,
                    std::span<const std::uint64_t> prefix) {
    if (candidate.epoch() != epoch) {
        return false;
    }
    const auto& release = candidate.release();
    for (size_t k = 0; k < prefix.size(); ++k) {
        const std::uint64_t part = k < release.size() ? release[k] : 0;
        if (part != prefix[k]) {
            return false;
        }
    }
    return true;
}

Error invalid_specifier(std::string_view text, std::string_view why) {
    return bad_input(fmt::format("invalid version specifier `{}`: {}", text, why),
                     "a specifier is an operator (~=, ==, !=, <=, >=, <, >, ===) and a PEP 440 "
                     "version, such as `>=1.2,<2` or `==1.4.*`");
}

}  // namespace

Specifier Specifier::parse(std::string_view text) {
    std::string why;
    if (auto s = parse_impl(text, &why)) {
        return *s;
    }
    throw invalid_specifier(strip(text), why);
}

std::optional<Specifier> Specifier::try_parse(std::string_view text) {
    return parse_impl(text, nullptr);
}

std::optional<Specifier> Specifier::parse_impl(std::string_view text, std::string* why) {
    auto fail = [&](std::string_view reason) -> std::optional<Specifier> {
        if (why != nullptr) {
            *why = reason;
        }
        return std::nullopt;
    };
    text = strip(text);
    static constexpr std::array<std::pair<std::string_view, Operator>, 8> k_ops{{
        {"===", Operator::arbitrary},
        {"~=", Operator::compatible},
        {"==", Operator::equal},
        {"!=", Operator::not_equal},
        {"<=", Operator::less_equal},
        {">=", Operator::greater_equal},
        {"<", Operator::less},
        {">", Operator::greater},
    }};
    Specifier out;
    bool found = false;
    for (const auto& [spelling, value] : k_ops) {
        if (text.starts_with(spelling)) {
            out.m_op = value;
            text.remove_prefix(spelling.size());
            found = true;
            break;
        }
    }
    if (!found) {
        return fail("it does not start with an operator");
    }
    const std::string_view operand = strip(text);
    out.m_version_text = std::string(operand);
    if (operand.empty()) {
        return fail("no version after the operator");
    }
    if (out.m_op == Operator::arbitrary) {
        // Anything without whitespace, `;` or `)` (packaging's rule) is compared as text.
        if (std::any_of(operand.begin(), operand.end(),
                        [](char c) { return is_space(c) || c == ';' || c == ')'; })) {
            return fail("`===` takes one word");
        }
        if (auto v = Version::try_parse(operand)) {
            out.m_version = *v;
            out.m_parsed = true;
        }
        return out;
    }
    std::string_view version_part = operand;
    if (operand.ends_with(".*")) {
        if (out.m_op != Operator::equal && out.m_op != Operator::not_equal) {
            return fail("`.*` is allowed only after == and !=");
        }
        out.m_wildcard = true;
        version_part.remove_suffix(2);
    }
    if (std::any_of(version_part.begin(), version_part.end(), is_space)) {
        return fail("whitespace inside the version");
    }
    auto v = Version::try_parse(version_part);
    if (!v) {
        return fail("not a PEP 440 version");
    }
    out.m_version = *v;
    out.m_parsed = true;
    if (out.m_wildcard && (v->pre() || v->post() || v->dev() || !v->local().empty())) {
        return fail("a `.*` prefix is a release number only");
    }
    const bool ordered = out.m_op != Operator::equal && out.m_op != Operator::not_equal;
    if (ordered && !v->local().empty()) {
        return fail("a local version label is allowed only after == and !=");
    }
    if (out.m_op == Operator::compatible && v->release().size() < 2) {
        return fail("`~=` needs at least two release numbers");
    }
    return out;
}

std::string Specifier::to_string() const {
    return fmt::format("{}{}", pep440::to_string(m_op), m_version_text);
}

bool Specifier::names_prerelease() const {
    switch (m_op) {
        case Operator::equal:
        case Operator::greater_equal:
        case Operator::less_equal:
        case Operator::compatible:
        case Operator::arbitrary:
            return m_parsed && m_version.is_prerelease();
        default:
            return false;
    }
}

bool Specifier::contains(const Version& version, PreReleases pre) const {
    const bool allow =
        pre == PreReleases::allow || (pre == PreReleases::by_specifier && names_prerelease());
    if (version.is_prerelease() && !allow) {
        return false;
    }
    return matches(version);
}

bool Specifier::matches(const Version& candidate) const {
    const Version& spec = m_version;
    switch (m_op) {
        case Operator::compatible: {
            const auto& release = spec.release();
            return candidate.public_version() >= spec &&
                   prefix_matches(candidate, spec.epoch(),
                                  std::span(release.data(), release.size() - 1));
        }
        case Operator::equal:
        case Operator::not_equal: {
            bool equal = false;
            if (m_wildcard) {
                equal = prefix_matches(candidate, spec.epoch(), spec.release());
            } else if (spec.local().empty()) {
                equal = candidate.public_version() == spec;
            } else {
                equal = candidate == spec;
            }
            return (m_op == Operator::equal) == equal;
        }
        case Operator::less_equal:
            return candidate.public_version() <= spec;
        case Operator::greater_equal:
            return candidate.public_version() >= spec;
        case Operator::less:
            // `<2.0` leaves out 2.0's own pre-releases unless it names a pre-release itself.
            if (!(candidate < spec)) {
                return false;
            }
            return spec.is_prerelease() || !candidate.is_prerelease() ||
                   candidate.base_version() != spec.base_version();
        case Operator::greater:
            // `>2.0` leaves out 2.0's post-releases (unless it names one) and local versions.
            if (!(candidate > spec)) {
                return false;
            }
            if (!spec.is_postrelease() && candidate.is_postrelease() &&
                candidate.base_version() == spec.base_version()) {
                return false;
            }
            return candidate.local().empty() || candidate.base_version() != spec.base_version();
        case Operator::arbitrary:
            return lowered(candidate.to_string()) == lowered(m_version_text);
    }
    return false;
}

namespace {

// Calls `fn` on each non-empty comma-separated clause of `text`, stripped; stops at the first
// clause `fn` returns false for and returns false then.
template <typename Fn>
bool for_each_clause(std::string_view text, Fn fn) {
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string_view::npos) {
            comma = text.size();
        }
        const std::string_view clause = strip(text.substr(start, comma - start));
        if (!clause.empty() && !fn(clause)) {
            return false;
        }
        start = comma + 1;
    }
    return true;
}

}  // namespace

SpecifierSet SpecifierSet::parse(std::string_view text) {
    SpecifierSet out;
    for_each_clause(text, [&](std::string_view clause) {
        std::string why;
        auto s = Specifier::parse_impl(clause, &why);
        if (!s) {
            throw invalid_specifier(clause, why).with_context(fmt::format("in `{}`", strip(text)));
        }
        out.add(std::move(*s));
        return true;
    });
    return out;
}

std::optional<SpecifierSet> SpecifierSet::try_parse(std::string_view text) {
    SpecifierSet out;
    const bool ok = for_each_clause(text, [&](std::string_view clause) {
        auto s = Specifier::try_parse(clause);
        if (s) {
            out.add(std::move(*s));
        }
        return s.has_value();
    });
    return ok ? std::optional<SpecifierSet>(std::move(out)) : std::nullopt;
}

void SpecifierSet::add(Specifier specifier) {
    const std::string text = specifier.to_string();
    for (const auto& s : m_specifiers) {
        if (s.to_string() == text) {
            return;
        }
    }
    m_specifiers.push_back(std::move(specifier));
}

std::string SpecifierSet::to_string() const {
    std::vector<std::string> texts;
    texts.reserve(m_specifiers.size());
    for (const auto& s : m_specifiers) {
        texts.push_back(s.to_string());
    }
    std::sort(texts.begin(), texts.end());
    return fmt::format("{}", fmt::join(texts, ","));
}

bool SpecifierSet::names_prerelease() const {
    return std::any_of(m_specifiers.begin(), m_specifiers.end(),
                       [](const Specifier& s) { return s.names_prerelease(); });
}

bool SpecifierSet::contains(const Version& version, PreReleases pre) const {
    const bool allow =
        pre == PreReleases::allow || (pre == PreReleases::by_specifier && names_prerelease());
    if (version.is_prerelease() && !allow) {
        return false;
    }
    return std::all_of(m_specifiers.begin(), m_specifiers.end(),
                       [&](const Specifier& s) { return s.matches(version); });
}

std::vector<std::size_t> SpecifierSet::filter(std::span<const Version> versions,
                                              PreReleases pre) const {
    std::vector<std::size_t> finals;
    std::vector<std::size_t> all;
    const bool allow =
        pre == PreReleases::allow || (pre == PreReleases::by_specifier && names_prerelease());
    for (size_t k = 0; k < versions.size(); ++k) {
        const Version& v = versions[k];
        if (v.is_prerelease() && pre == PreReleases::exclude) {
            continue;
        }
        if (!std::all_of(m_specifiers.begin(), m_specifiers.end(),
                         [&](const Specifier& s) { return s.matches(v); })) {
            continue;
        }
        all.push_back(k);
        if (!v.is_prerelease()) {
            finals.push_back(k);
        }
    }
    if (allow || finals.empty()) {
        return all;
    }
    return finals;
}

SpecifierSet SpecifierSet::operator&(const SpecifierSet& other) const {
    SpecifierSet out = *this;
    for (const auto& s : other.m_specifiers) {
        out.add(s);
    }
    return out;
}

}  // namespace envpack::pep440
