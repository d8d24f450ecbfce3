// A conda version constraint (the version part of a match spec), as conda's `VersionSpec`.
//
// Grammar: `A|B` (or), `A,B` (and, binds tighter than `|`), parentheses; each leaf is `*`,
// an operator and a version (`==`, `!=`, `<`, `<=`, `>`, `>=`, `~=` compatible release,
// `=1.7` prefix), a prefix `1.7.*` / `1.7*` (1.7, 1.7.1 and 1.7rc1 but not 1.70), a glob with
// `*` inside (`1.*.3`), a regular expression `^...$` matched against the whole version string as
// written (string_pattern.h says how it differs from Python's `re`; a regex may hold `|`, `,` and
// parentheses: it runs to the first `$`), or a bare version, which is an exact match (`1.7` ==
// `==1.7`, and so matches 1.7.0).
// `!=1.7.*` excludes a prefix. Whitespace outside regexes is ignored.
//
// `.*` after an operator follows conda: dropped after `=` and `>=` (`>=2.*` is `>=2`), a prefix
// exclusion after `!=`, refused after `~=`. After `<`, `<=`, `>` conda drops it with a
// deprecation warning, and so does envpack (the warning is returned). `==1.7.*` is read as the
// prefix `1.7.*` (as CEP 29, libmamba and rattler read it, and as conda reads `name==1.7.*`);
// conda classic reads it as `==1.7` inside `[version=...]` or a compound spec, so a warning says
// so.
//
// `parse` throws a bad-input Error naming the spec; `try_parse` returns the error's message and
// offset instead. `to_string` gives a canonical form that parses back to the same spec (`1.7*`
// prints as `1.7.*`, a bare `1.7` as `1.7`).
#pragma once

#include <expected>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/string_pattern.h"
#include "resolver/version.h"

namespace envpack {

class VersionSpec {
  public:
    enum class Op {
        any,
        eq,
        ne,
        lt,
        le,
        gt,
        ge,
        starts_with,
        not_starts_with,
        compatible,
        glob,
        regex,
        all_of,
        any_of
    };

    VersionSpec() = default;  // matches every version
    static VersionSpec parse(std::string_view text);
    // Warnings (conda's deprecations, readings that differ between conda's solvers) are appended
    // to `warnings` when given.
    static std::expected<VersionSpec, SpecSyntaxError> try_parse(
        std::string_view text, std::vector<std::string>* warnings = nullptr);

    bool matches(const Version& version) const;
    std::string to_string() const;

    bool is_any() const { return m_op == Op::any; }
    // True for a single `==V` leaf.
    bool is_exact() const { return m_op == Op::eq; }
    Op op() const { return m_op; }
    // The version of a leaf with an operand (eq, lt, starts_with, ...).
    const Version& operand() const { return m_version; }

  private:
    Op m_op = Op::any;
    Version m_version;                          // leaves with an operand
    std::string m_pattern;                      // glob (lower case), regex and text leaves
    std::shared_ptr<const std::regex> m_regex;  // regex leaves
    bool m_bare = false;                  // an eq leaf written without `==` (printed the same way)
    std::vector<VersionSpec> m_children;  // all_of / any_of

    friend class VersionSpecParser;
};

// True when `text` matches the glob `pattern` (`*` = any run of characters; a pattern without
// `*` must be equal). Used for version globs, package names, build strings and channels.
bool glob_matches(std::string_view pattern, std::string_view text);

}  // namespace envpack
