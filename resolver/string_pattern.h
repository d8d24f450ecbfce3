// How conda matches a text field of a record (build string, license, channel name): an exact
// string, a glob (`py27*`, `*_0`; `*` = any run of characters), or a regular expression written
// `^...$` (conda's `GlobStrMatch`).
//
// Regular expressions follow Python `re.match` as conda uses them, executed with std::regex's
// ECMAScript grammar: the same for character classes, alternation, groups, `(?:...)`,
// look-ahead and quantifiers. Python-only syntax — named groups `(?P<n>...)`, look-behind
// `(?<=...)`/`(?<!...)`, inline flags `(?i)`, `\A`, `\Z` — is refused with a message rather
// than read differently. Python's `$` also matches before one trailing newline; no field
// matched here contains newlines.
//
// `parse` returns the pattern or a SpecSyntaxError with the 0-based offset of the problem;
// `to_string` gives the text back as written. Copies share the compiled expression.
#pragma once

#include <expected>
#include <memory>
#include <regex>
#include <string>
#include <string_view>

namespace envpack {

// Why a spec (or a part of it) does not parse, and where: `offset` is 0-based in the text given
// to the parser that reports it.
struct SpecSyntaxError {
    std::string message;
    size_t offset = 0;
};

// Whether the compared text is folded to lower case first (conda's license matching).
enum class CaseFold { no, yes };

class StringPattern {
  public:
    enum class Kind { exact, glob, regex };

    StringPattern() = default;
    static std::expected<StringPattern, SpecSyntaxError> parse(std::string_view text,
                                                               CaseFold fold = CaseFold::no);

    bool matches(std::string_view text) const;
    const std::string& to_string() const { return m_text; }
    Kind kind() const { return m_kind; }
    bool empty() const { return m_text.empty(); }

  private:
    Kind m_kind = Kind::exact;
    CaseFold m_fold = CaseFold::no;
    std::string m_text;                         // as written
    std::string m_folded;                       // lower case when m_fold, else m_text
    std::shared_ptr<const std::regex> m_regex;  // regex kind only
};

// Compiles a conda regular expression (`^...$`, the whole pattern) with ECMAScript semantics;
// Python-only constructs and malformed patterns give a SpecSyntaxError whose offset points into
// `pattern`.
std::expected<std::shared_ptr<const std::regex>, SpecSyntaxError> compile_conda_regex(
    std::string_view pattern);

}  // namespace envpack
