// A conda environment file (CEP 24): `name`, `channels`, `dependencies` (conda match specs and at
// most one `pip:` list, kept verbatim for the pip resolver), `variables`; `prefix` is accepted and
// ignored with a note.
//
// `EnvSpec::parse` is pure (text in, value out). Any unknown top-level key, a malformed YAML
// document, or a malformed dependency entry throws a bad-input Error (exit code 2) whose message is
// `file:line:column: what` followed by the offending line and a caret. `to_string` writes the
// canonical YAML form; `parse(to_string(x))` equals `x` (round trip, tested).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/yaml.h"  // SourcePos

namespace envpack {

struct EnvSpec {
    std::string name;                                            // may be empty
    std::vector<std::string> channels;                           // as written (names, URLs, paths)
    std::vector<std::string> dependencies;                       // conda match specs, as written
    std::vector<std::string> pip;                                // the `pip:` list, verbatim
    std::vector<std::pair<std::string, std::string>> variables;  // in file order
    std::vector<std::string> notes;                              // e.g. "`prefix` is ignored"

    // Not part of the value (ignored by ==): where it came from, for errors and relative paths.
    std::filesystem::path file;             // the path given to load(), or the name for parse()
    std::vector<SourcePos> dependency_pos;  // parallel to `dependencies`
    std::vector<SourcePos> channel_pos;     // parallel to `channels`
    std::vector<SourcePos> pip_pos;         // parallel to `pip`
    std::string source_text;                // the text parsed (for line display)

    // Parses the YAML `text`; `file_name` names it in errors. Throws bad-input Error.
    static EnvSpec parse(std::string_view text, const std::filesystem::path& file_name);
    // Reads and parses a file. Throws Error naming the path if it cannot be read.
    static EnvSpec load(const std::filesystem::path& path);

    // Canonical YAML (name, channels, dependencies with the pip list last, variables).
    std::string to_string() const;

    // The directory that relative local-path channels are resolved against.
    std::filesystem::path base_dir() const;

    // A bad-input Error pointing at `pos` in this file, showing the line with a caret.
    [[nodiscard]] std::string located_message(SourcePos pos, std::string_view message) const;

    bool operator==(const EnvSpec& other) const {
        return name == other.name && channels == other.channels &&
               dependencies == other.dependencies && pip == other.pip &&
               variables == other.variables;
    }
};

// The environment file's content hash for lock files: sha256 hex over the inputs that decide a
// solve for `platform` (channels, dependencies, pip list, platform), independent of comments,
// formatting, `name` and `variables`. A lock whose recorded hash differs is stale. (`--virtual`
// overrides are a choice made when locking, not part of the file, so they are not hashed.)
std::string env_content_hash(const EnvSpec& spec, std::string_view platform);

}  // namespace envpack
