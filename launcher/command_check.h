// Whether a job's command can run in its image, decided before anything starts (so a missing
// command exits 127, and one that cannot be executed 126, with no container half-started).
// Paths are resolved inside the root filesystem as the container will see them: absolute
// symbolic links start at the rootfs, `..` never leaves it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace envpack {

enum class CommandCheck { runnable, not_executable, not_found };

// `path` (absolute, as inside the container) resolved in `rootfs`, following symbolic links the
// way the container would; nullopt when a component is missing or there are too many links.
std::optional<std::filesystem::path> resolve_in_rootfs(const std::filesystem::path& rootfs,
                                                       std::string_view path);

// Looks `name` up as execve/sh would: a name with '/' is taken relative to `cwd`, others are
// searched in `path_var` (the process's PATH). Fills `found` (container path) when runnable.
CommandCheck check_command(const std::filesystem::path& rootfs, std::string_view name,
                           std::string_view path_var, std::string_view cwd,
                           std::string* found = nullptr);

// The command a `sh -c SCRIPT` runs first, when that is plain to see: the first word after
// leading `NAME=value` assignments, made only of characters that need no quoting. nullopt for
// shell keywords and builtins (`cd`, `if`, `export`, ...) and anything more complex. Pure.
std::optional<std::string> first_command_word(std::string_view script);

// The program an argv runs: argv[0], or for `sh -c SCRIPT` (any sh/bash path) also the first
// command of SCRIPT. Pure.
std::vector<std::string> programs_of(const std::vector<std::string>& argv);

}  // namespace envpack
