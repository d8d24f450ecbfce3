// Git's ignore rules as a pure matching engine: wildmatch and the gitignore(5) line rules, with
// no I/O. The snapshot walker (builder/snapshot.h) reads the files; this header decides.
//
// Promises (each mirrors git 2.39's dir.c / wildmatch.c, and is tested against git itself):
// - A line is split at '\n'; one '\r' before it is dropped; a UTF-8 BOM at the start of the file
//   is skipped; lines starting with '#' are comments; trailing unescaped spaces (not tabs) are
//   trimmed; an empty line is no pattern. A NUL byte ends the line's pattern (git reads C strings).
// - A leading '!' negates; one trailing '/' makes the pattern match directories only; a pattern
//   with no other '/' matches the basename at any depth, otherwise the path relative to the
//   directory holding the ignore file (a leading '/' only anchors).
// - Patterns are wildmatch globs: '*' and '?' do not match '/' in path patterns, '**' as a whole
//   component matches any number of components, '[...]' with ranges, '!'/'^' negation and
//   [:class:] names, '\' escapes the next byte. Malformed patterns ('[' unclosed, an unknown
//   class) never match, as in git. Matching is bytewise and case-sensitive (core.ignoreCase off).
// - Within one file the last matching pattern decides; across nested files the deepest file with
//   any matching pattern decides. That nothing under an excluded directory can be re-included is
//   the walker's part: it does not descend into excluded directories.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace envpack {
namespace detail {
struct IgnoreCompiled;
}

enum class WildmatchMode {
    basename,  // '*' and '?' match '/' too (git's flags = 0)
    pathname,  // WM_PATHNAME: '/' only matched literally or by a "**" component
};

// git's wildmatch(): true when `pattern` matches all of `text`.
bool wildmatch(std::string_view pattern, std::string_view text, WildmatchMode mode);

enum class PathKind { file, directory };  // symlinks, even to directories, are files

struct IgnorePattern {
    std::string body;  // after '!' and the trailing '/' are removed; a leading '/' is kept
    bool negative = false;
    bool directory_only = false;  // the line ended in '/'
    bool basename_only = false;   // no '/' in the body: matched against the last component
    bool ends_with = false;       // "*literal": matched by a suffix compare
    size_t literal_prefix = 0;    // length of the body's leading run without glob characters
    int line = 0;                 // 1-based line number in the ignore file

    // The line this pattern parses back from (parse(to_string()) gives an equal pattern).
    std::string to_string() const;
    // Whether the pattern matches `relative_path` (relative to the ignore file's directory,
    // '/'-separated, non-empty); `basename` is its last component.
    bool matches(std::string_view relative_path, std::string_view basename, PathKind kind) const;
    bool operator==(const IgnorePattern&) const = default;
};

enum class IgnoreVerdict { undecided, excluded, included };

// The patterns of one ignore file, in file order.
class IgnoreFile {
  public:
    IgnoreFile() = default;
    // Parses the contents of an ignore file. Never fails: git has no invalid lines.
    static IgnoreFile parse(std::string_view contents);

    // The verdict of this file for a path relative to its directory: the last matching pattern
    // decides; `undecided` when none matches.
    IgnoreVerdict match(std::string_view relative_path, PathKind kind) const;

    const std::vector<IgnorePattern>& patterns() const { return m_patterns; }
    bool empty() const { return m_patterns.empty(); }

  private:
    std::vector<IgnorePattern> m_patterns;
    std::shared_ptr<const detail::IgnoreCompiled> m_compiled;  // one entry per pattern
};

// The ignore files that apply at one directory: an immutable chain, one link per directory on
// the way down that has an ignore file. Links are shared between sibling subtrees.
class IgnoreStack {
  public:
    IgnoreStack() = default;
    // A stack with `file` (held by the directory `dir`, relative to the root, "" for the root)
    // pushed on top of this one.
    IgnoreStack push(std::string dir, std::shared_ptr<const IgnoreFile> file) const;

    // Whether `path` (relative to the root, '/'-separated) is excluded: the deepest file with a
    // matching pattern decides, and a negative pattern means not excluded.
    bool excluded(std::string_view path, PathKind kind) const;
    size_t depth() const;

  private:
    struct Link {
        std::shared_ptr<const Link> parent;
        std::shared_ptr<const IgnoreFile> file;
        std::string dir;  // "" or "a/b"
    };
    std::shared_ptr<const Link> m_top;
};

}  // namespace envpack
