// Python dependency specifiers (PEP 508) and project names (PEP 503), as pip and its vendored
// `packaging` read them, with environment markers evaluated for the *target image*.
//
// `Requirement::parse` takes `name [extras] (specifiers | @ URL) [; marker]` in packaging's
// grammar (parentheses around the specifiers allowed, whitespace anywhere packaging allows it).
// `to_string` prints it as packaging's `str(Requirement)` does: the name as written, extras
// sorted, the specifier set sorted, ` @ URL`, then `; marker`; parse(to_string(r)) gives the
// same value. A syntax error is a `SyntaxError` value (message and 0-based offset) from
// `try_parse`, so the environment-file reader can report file:line:column; `parse` throws it as a
// bad-input Error with a caret under the offending character.
//
// `Marker::evaluate` follows packaging: a comparison whose right-hand side makes a PEP 440
// specifier with the operator (`python_version >= "3.8"`) is a version comparison with
// pre-releases allowed; otherwise it compares strings (`==`, `!=`, `<`…, `in`, `not in`); `extra`
// is compared after PEP 503 normalisation; `and` binds tighter than `or`. `Environment`
// describes the image the packages go into, never the build host: the python version and
// implementation come from the conda solve, `sys_platform` is `linux`, `os_name` `posix`,
// `platform_machine` from the conda platform. `platform_release` and `platform_version` (a
// kernel's, known only on a running machine) are unknown unless set: a marker that reads them is
// a bad-input Error that names the variable.
#pragma once

#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "resolver/pep440.h"

namespace envpack::pep508 {

// PEP 503 normalised project name: lower case, runs of `-`, `_`, `.` become one `-`.
std::string normalize_name(std::string_view name);
// Whether `name` is a valid project name (letters, digits, `-`, `_`, `.`; starts and ends with a
// letter or digit).
bool is_valid_name(std::string_view name);

// A syntax error: what was expected, and where (0-based byte offset into the parsed text).
struct SyntaxError {
    std::string message;
    std::size_t offset = 0;
};

// The values markers are evaluated against.
struct Environment {
    std::string implementation_name = "cpython";
    std::optional<std::string> implementation_version;  // unknown for PyPy
    std::string os_name = "posix";
    std::string platform_machine;
    std::optional<std::string> platform_release;  // unknown for an image
    std::string platform_system = "Linux";
    std::optional<std::string> platform_version;  // unknown for an image
    std::string python_full_version;
    std::string platform_python_implementation = "CPython";
    std::string python_version;
    std::string sys_platform = "linux";

    // The environment of an image whose python is `python` (the conda solve's version, e.g.
    // 3.11.4) on `conda_platform` (linux-64 -> x86_64, linux-aarch64 -> aarch64, linux-ppc64le,
    // linux-s390x, linux-32 -> i686, linux-armv7l). `implementation` is `cpython` or `pypy`.
    // Throws a bad-input Error for other platforms (images are Linux) or implementations.
    static Environment for_target(const pep440::Version& python, std::string_view conda_platform,
                                  std::string_view implementation = "cpython");
    // The platform_machine of a conda platform, or nullopt when it is not a Linux one.
    static std::optional<std::string> machine_for(std::string_view conda_platform);
};

enum class MarkerOp : unsigned char {
    less,
    less_equal,
    equal,
    not_equal,
    greater_equal,
    greater,
    compatible,
    arbitrary,
    in,
    not_in,
};
std::string_view to_string(MarkerOp op);

class Marker {
  public:
    // One side of a comparison: a variable (normalised name: `os.name` -> `os_name`,
    // `python_implementation` -> `platform_python_implementation`) or a quoted string.
    struct Operand {
        enum class Kind : unsigned char { variable, literal };
        Kind kind = Kind::literal;
        std::string text;
    };
    struct Comparison {
        Operand lhs;
        MarkerOp op = MarkerOp::equal;
        Operand rhs;
    };
    // A parenthesised group or the whole marker: items joined by `and`/`or` (joins.size() ==
    // items.size() - 1), kept as written so printing gives packaging's text.
    struct Group;
    struct Item {
        std::optional<Comparison> comparison;  // set, or else `group` is
        std::vector<Group> group;              // exactly one element when used
    };
    enum class Join : unsigned char { and_, or_ };
    struct Group {
        std::vector<Item> items;
        std::vector<Join> joins;
    };

    Marker() = default;
    explicit Marker(Group root) : m_root(std::move(root)) {}

    static Marker parse(std::string_view text);
    static std::expected<Marker, SyntaxError> try_parse(std::string_view text);

    // `python_version >= "3.8" and (os_name == "posix" or extra == "test")`, as packaging prints.
    std::string to_string() const;
    const Group& root() const { return m_root; }

    // Evaluates against `env` with `extra` as the value of the `extra` variable ("" for none).
    // Throws a bad-input Error for a variable the environment does not know (platform_release,
    // platform_version), a version comparison whose other side is no version, and `~=`/`===` on
    // strings.
    bool evaluate(const Environment& env, std::string_view extra = {}) const;

  private:
    Group m_root;
};

class Requirement {
  public:
    std::string name;                 // as written
    std::vector<std::string> extras;  // as written, in order
    pep440::SpecifierSet specifier;
    std::string url;  // `name @ URL`; empty otherwise
    std::optional<Marker> marker;

    static Requirement parse(std::string_view text);
    static std::expected<Requirement, SyntaxError> try_parse(std::string_view text);

    std::string normalized_name() const { return normalize_name(name); }
    std::string to_string() const;
    // Whether the requirement applies in `env` with the extras requested of its parent (no marker
    // means yes). A requirement with `extra == "x"` applies only when one of `extras` is x.
    bool applies(const Environment& env, const std::vector<std::string>& parent_extras = {}) const;
};

// Formats `error` against `text` as "message\n  text\n  ^" (used by `parse`).
std::string describe(const SyntaxError& error, std::string_view text);

}  // namespace envpack::pep508
