// The `pip:` list of an environment file, read as pip reads a requirements file (pip's
// `req_file.py`; conda hands the list to pip as a requirements file beside the environment file):
//
// - each list item is one line; `-r FILE` / `--requirement FILE` includes a requirements file and
//   `-c FILE` / `--constraint FILE` a constraints file, both relative to the file that names them,
//   followed recursively (comments from ` #` or a leading `#`, `\` line continuations, `${VAR}`
//   expanded from the environment as pip does);
// - source options: `-i`/`--index-url` (replaces PyPI, the default), `--extra-index-url`,
//   `--no-index`, `-f`/`--find-links` (a directory relative to the file that names it, or a URL),
//   `--pre`; `--only-binary`, `--prefer-binary` and `--trusted-host` are accepted (envpack installs
//   wheels only and checks TLS always) with a note; `-e`/`--editable`, `--no-binary` and unknown
//   options are refused with their location;
// - a requirement line is PEP 508 (`name[extras] specifier ; marker`, `name @ URL`) or a path or
//   URL of a wheel, optionally followed by `--hash=ALGO:HEX` options (pip's hash-checking: the
//   chosen wheel's sha256 must be one of them).
//
// Pure apart from reading the included files. Errors are bad-input Errors that name the file,
// line and column (the environment file's item with a caret, or `FILE:LINE` of an included file).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/yaml.h"  // SourcePos
#include "resolver/pep440.h"
#include "resolver/pep508.h"

namespace envpack {
struct EnvSpec;
class Error;
}  // namespace envpack

namespace envpack::pip_list {

inline constexpr std::string_view k_default_index = "https://pypi.org/simple";

// Where a line came from: an item of the environment file (pos set) or a line of an included file.
struct Origin {
    std::filesystem::path file;    // as it should be named in messages
    std::optional<SourcePos> pos;  // environment-file items
    int line = 0;                  // included files (1-based)
    std::string text;              // the line as read, for messages
};

struct Line {
    pep508::Requirement requirement;  // for a wheel given by path/URL: name + url, no specifier
    std::vector<std::string> sha256;  // allowed hashes from `--hash=sha256:...`; empty: any
    Origin origin;
};

struct PipList {
    std::vector<Line> requirements;
    std::vector<Line> constraints;        // from `-c` files: limit versions, install nothing
    std::vector<std::string> find_links;  // absolute directories or URLs
    std::string index_url = std::string(k_default_index);  // `-i` (the last one given)
    std::vector<std::string> extra_index_urls;
    bool no_index = false;
    pep440::PreReleases pre = pep440::PreReleases::by_specifier;
    std::vector<std::string> notes;  // accepted-but-ignored options, for warnings

    // The index URL, then the extra ones; none with --no-index.
    std::vector<std::string> active_indexes() const;
};

// Reads `spec.pip` (and what it includes). Throws bad-input Error as described above.
PipList read(const EnvSpec& spec);

// A bad-input Error at `origin` (with `column_offset` bytes into the requirement text when known).
Error error_at(const EnvSpec& spec, const Origin& origin, std::string_view message,
               std::string_view hint = {}, std::size_t column_offset = 0);

}  // namespace envpack::pip_list
