// A conda version constraint (the version part of a match spec), as conda's `VersionSpec`.
//
// Grammar: `A|B` (or), `A,B` (and, binds tighter than `|`), parentheses; each leaf is `*`,
// an operator and a version (`==`, `!=`, `<`, `<=`, `>`, `>=`, `~=` compatible release,
// `=1.7` prefix), a prefix `1.7.*` / `1.7*` (1.7, 1.7.1 and 1.7rc1 but not 1.70), a glob with
// `*` inside (`1.*.3`), or a bare version, which is an exact match (`1.7` == `==1.7`, and so
// matches 1.7.0). `!=1.7.*` excludes a prefix. Whitespace is ignored.
// Regular expressions (`^...$`) are not supported.
//
// `parse` throws a bad-input Error naming the spec; `to_string` gives a canonical form that
// parses back to the same spec (`1.7*` prints as `1.7.*`, a bare `1.7` as `==1.7`).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
        all_of,
        any_of
    };

    VersionSpec() = default;  // matches every version
    static VersionSpec parse(std::string_view text);

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
    Version m_version;                    // leaves with an operand
    std::string m_pattern;                // glob leaves, lower case
    bool m_bare = false;                  // an eq leaf written without `==` (printed the same way)
    std::vector<VersionSpec> m_children;  // all_of / any_of

    friend class VersionSpecParser;
};

// True when `text` matches the glob `pattern` (`*` = any run of characters; a pattern without
// `*` must be equal). Used for version globs, package names, build strings and channels.
bool glob_matches(std::string_view pattern, std::string_view text);

}  // namespace envpack
