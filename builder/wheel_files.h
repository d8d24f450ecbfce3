// The files pip writes or rewrites while installing a wheel, as pure functions over text: the
// RECORD (PEP 376/427, read and written as Python's csv module does), `entry_points.txt`, the
// console and GUI scripts pip's vendored distlib generates for entry points, and the `#!python`
// shebang rewrite of `.data/scripts` files. See pip/_internal/operations/install/wheel.py and
// pip/_vendor/distlib/scripts.py (pip 23.0.1, Debian bookworm's, is the oracle in the tests).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"

namespace envpack::wheel_files {

struct RecordRow {
    std::string path;
    std::string hash;  // "sha256=<urlsafe base64, no padding>" or ""
    std::string size;  // decimal or ""
    auto operator<=>(const RecordRow&) const = default;
};

// Rows of a RECORD file (csv: `,` separated, `"` quoted with `""` escapes, `\n` or `\r\n`
// lines; empty lines skipped). A row with no path or more than three fields is a bad-input
// Error naming `source` and the line.
std::vector<RecordRow> parse_record(std::string_view text, std::string_view source);

// The RECORD pip writes: rows sorted (as tuples of strings), csv.writer's minimal quoting, each
// line ended by "\r\n".
std::string write_record(std::vector<RecordRow> rows);

// "sha256=<urlsafe base64 of the digest, '=' padding stripped>".
std::string record_hash(const Digest& digest);

struct EntryPoint {
    std::string name;    // the script's file name
    std::string module;  // `pkg.mod`
    std::string attr;    // `main` or `Class.method`

    // `module:attr` with optional ` [extras]` (ignored, as pip ignores them); a bad-input Error
    // naming `source` when the callable suffix is missing (pip's MissingCallableSuffix) or the
    // name could not be a file name in one directory.
    static EntryPoint parse(std::string_view name, std::string_view value, std::string_view source);
};

struct EntryPoints {
    std::vector<std::pair<std::string, std::string>> console;  // name, value, in file order
    std::vector<std::pair<std::string, std::string>> gui;

    // `entry_points.txt` (ini sections, `name = value`, `#`/`;` comments); other groups ignored.
    static EntryPoints parse(std::string_view text);
};

// The console scripts pip generates, in its order: `pip` becomes pip, pipX, pipX.Y for the target
// python X.Y (and the wheel's own pipN[.M] entries are dropped); `easy_install` likewise becomes
// easy_install and easy_install-X.Y; every other entry as it is.
std::vector<EntryPoint> console_scripts(const EntryPoints& entry_points, unsigned python_major,
                                        unsigned python_minor, std::string_view source);
std::vector<EntryPoint> gui_scripts(const EntryPoints& entry_points, std::string_view source);

// distlib's shebang for `interpreter`: `#!INTERPRETER\n`, or, when it holds a space or the line
// would be longer than 127 bytes, the `/bin/sh` trampoline `#!/bin/sh\n'''exec' INTERPRETER
// "$0" "$@"\n' '''`.
std::string shebang(std::string_view interpreter);

// The whole script distlib writes for an entry point (shebang + its SCRIPT_TEMPLATE).
std::string script_text(const EntryPoint& entry, std::string_view interpreter);

// pip's fix_script: when `content` starts with `#!python`, the first line is replaced by
// `#!INTERPRETER\n` (the rest of that line dropped, as pip does); nullopt otherwise.
std::optional<std::string> rewrite_python_shebang(std::string_view content,
                                                  std::string_view interpreter);

}  // namespace envpack::wheel_files
