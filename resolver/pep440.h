// Python package versions and version specifiers (PEP 440), as pip and its vendored `packaging`
// read them. These are the pip section's versions; conda's are resolver/version.h.
//
// `pep440::Version` accepts everything packaging's `Version` accepts: surrounding whitespace, a
// leading `v`, any case, `-`/`_`/`.` separators, the alternate spellings (`alpha`, `beta`, `c`,
// `pre`, `preview` for pre-releases; `rev`, `r` and `1.0-1` for post-releases), implicit numbers
// (`1.0a` = `1.0a0`) and local versions (`+ubuntu-1` = `+ubuntu.1`). `to_string` gives the
// normalized form (`1.0.post1`, `1!2.0rc1.dev3+abc.5`); parse(to_string(v)) == v, and to_string
// is a fixed point. Ordering is PEP 440's: trailing zeros of the release do not count
// (`1.0 == 1.0.0`), `1.0.dev0 < 1.0a0 < 1.0rc1 < 1.0 < 1.0+local < 1.0.post0`, a pre-release's
// dev release sorts before it (`1.0a1.dev1 < 1.0a1`), local segments compare numerically when
// both are numbers, and a number beats a string (`+abc < +5`). Numbers must fit 64 bits.
//
// `Specifier` / `SpecifierSet` implement the eight operators (`~=`, `==`, `!=`, `<=`, `>=`, `<`,
// `>`, `===`) with `.*` prefix matching on `==`/`!=`, the local-version rules (a specifier
// without a local label ignores the candidate's; `>V` excludes V's post and local releases, `<V`
// excludes V's pre-releases unless V is one) and the pre-release rule pip applies: a pre-release
// or dev release is excluded unless asked for (`PreReleases::allow`, or a specifier that names a
// pre-release itself, such as `>=2.0b1`), or — in `filter` — unless nothing else matches.
// Parsing throws a bad-input `Error` that quotes the text; `try_parse` returns nullopt instead.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace envpack::pep440 {

enum class PreKind : std::uint8_t { a, b, rc };

class Version {
  public:
    struct Pre {
        PreKind kind = PreKind::a;
        std::uint64_t number = 0;
        auto operator<=>(const Pre&) const = default;
    };
    // One dot-separated part of a local label: a number or a lower-case string.
    using LocalPart = std::variant<std::uint64_t, std::string>;

    Version() = default;  // "0"

    static Version parse(std::string_view text);
    static std::optional<Version> try_parse(std::string_view text);

    std::string to_string() const;

    std::uint64_t epoch() const { return m_epoch; }
    const std::vector<std::uint64_t>& release() const { return m_release; }
    const std::optional<Pre>& pre() const { return m_pre; }
    const std::optional<std::uint64_t>& post() const { return m_post; }
    const std::optional<std::uint64_t>& dev() const { return m_dev; }
    const std::vector<LocalPart>& local() const { return m_local; }

    // A pre-release or a development release (packaging's `is_prerelease`).
    bool is_prerelease() const { return m_pre.has_value() || m_dev.has_value(); }
    bool is_postrelease() const { return m_post.has_value(); }
    bool is_devrelease() const { return m_dev.has_value(); }
    // This version without its local label.
    Version public_version() const;
    // Only the epoch and release (`1!2.0rc1.post3+x` -> `1!2.0`).
    Version base_version() const;

    std::strong_ordering operator<=>(const Version& other) const;
    bool operator==(const Version& other) const { return (*this <=> other) == 0; }

  private:
    std::uint64_t m_epoch = 0;
    std::vector<std::uint64_t> m_release{0};
    std::optional<Pre> m_pre;
    std::optional<std::uint64_t> m_post;
    std::optional<std::uint64_t> m_dev;
    std::vector<LocalPart> m_local;
};

enum class Operator : std::uint8_t {
    compatible,     // ~=
    equal,          // ==
    not_equal,      // !=
    less_equal,     // <=
    greater_equal,  // >=
    less,           // <
    greater,        // >
    arbitrary,      // ===
};

std::string_view to_string(Operator op);

// Whether pre-releases (and dev releases) may match.
enum class PreReleases : std::uint8_t {
    by_specifier,  // pip's default: only where a specifier names a pre-release (and, in
                   // `filter`, when nothing else matches)
    allow,         // `--pre`
    exclude,
};

class Specifier {
  public:
    // One clause: `>=1.0`, `== 1.2.*`, `~=2.2.post3`, `===foobar`. Throws a bad-input Error.
    static Specifier parse(std::string_view text);
    static std::optional<Specifier> try_parse(std::string_view text);

    Operator op() const { return m_op; }
    // The version text as written (stripped), `.*` included.
    const std::string& version_text() const { return m_version_text; }
    // The operator and the version text as written: `>=1.0`, `==1.2.*`.
    std::string to_string() const;
    bool is_wildcard() const { return m_wildcard; }

    // Whether this clause names a pre-release itself (`>=1.0b1`, `==2.0.dev1`, `~=1.0rc1`), which
    // lets pre-releases match (packaging's `Specifier.prereleases`).
    bool names_prerelease() const;

    // Whether `version` satisfies the clause. With `by_specifier`, a pre-release matches only when
    // names_prerelease().
    bool contains(const Version& version, PreReleases pre = PreReleases::by_specifier) const;

  private:
    friend class SpecifierSet;
    static std::optional<Specifier> parse_impl(std::string_view text, std::string* why);
    bool matches(const Version& candidate) const;  // the operator alone, no pre-release rule

    Operator m_op = Operator::greater_equal;
    std::string m_version_text;
    Version m_version;  // the parsed operand (the prefix for wildcards); unused for ===
    bool m_wildcard = false;
    bool m_parsed = false;  // false only for === operands that are not PEP 440 versions
};

class SpecifierSet {
  public:
    SpecifierSet() = default;
    // Comma-separated clauses, possibly none (`""` matches every final release).
    static SpecifierSet parse(std::string_view text);
    static std::optional<SpecifierSet> try_parse(std::string_view text);

    const std::vector<Specifier>& specifiers() const { return m_specifiers; }
    bool empty() const { return m_specifiers.empty(); }
    // Clauses sorted by their text and joined with `,` (as packaging prints a set).
    std::string to_string() const;
    // Any clause names a pre-release.
    bool names_prerelease() const;

    // Whether `version` satisfies every clause. With `by_specifier`, a pre-release matches only
    // when some clause names a pre-release.
    bool contains(const Version& version, PreReleases pre = PreReleases::by_specifier) const;

    // The indices of the `versions` that match, in their order. With `by_specifier`, pre-releases
    // are left out unless a clause names one, or unless no final release matches at all (PEP 440's
    // rule, and pip's for the candidates of a requirement).
    std::vector<std::size_t> filter(std::span<const Version> versions,
                                    PreReleases pre = PreReleases::by_specifier) const;

    // This set and `other` together.
    SpecifierSet operator&(const SpecifierSet& other) const;

  private:
    void add(Specifier specifier);  // keeps the first of identical clauses

    std::vector<Specifier> m_specifiers;
};

}  // namespace envpack::pep440
