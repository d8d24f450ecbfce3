// conda's channel configuration (`.condarc`): which channels a request uses and what a channel
// name stands for.
//
// Keys read (every other key of a .condarc is conda's business and ignored): `channels` (a list),
// `channel_alias` (the base URL of channel names, default `https://conda.anaconda.org`),
// `custom_channels` (NAME: BASE_URL — `NAME` and `NAME/label/x` then live under BASE_URL/NAME),
// `default_channels` (what `defaults` expands to; conda's Linux default when absent) and
// `channel_priority` (`strict`, `flexible`, `disabled`).
//
// `Condarc::parse` is pure: YAML text in, value out; malformed YAML or a wrongly typed key is a
// bad-input Error with file:line:column. `Condarc::locate` says which file conda would read: the
// `CONDARC` environment variable when set, else `~/.condarc` when it exists. `expand` maps one
// channel as written (in an environment file or in `channels`) to the base URLs it stands for, in
// order: `defaults` to `default_channels`, a custom channel under its base, a URL or a local path
// as is, any other name under `channel_alias`. Tokens (`/t/TOKEN/`) pass through unchanged
// (core/http.h `redact` hides them in messages).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace envpack {

struct EnvSpec;
struct ChannelOptions;
struct SolverOptions;

enum class CondarcPriority { strict, flexible, disabled };

struct Condarc {
    std::vector<std::string> channels;
    std::string channel_alias = "https://conda.anaconda.org";
    std::map<std::string, std::string> custom_channels;
    std::vector<std::string> default_channels = {"https://repo.anaconda.com/pkgs/main",
                                                 "https://repo.anaconda.com/pkgs/r"};
    std::optional<CondarcPriority> channel_priority;  // unset: conda's default (flexible)

    static Condarc parse(std::string_view text, const std::filesystem::path& file);
    static Condarc load(const std::filesystem::path& file);
    // `CONDARC` when non-empty (`condarc_env`), else `home/.condarc` when it exists.
    static std::optional<std::filesystem::path> locate(const char* condarc_env,
                                                       const std::filesystem::path& home);

    std::vector<std::string> expand(std::string_view channel) const;

    // The channels a request uses, each with the index of the entry of `written` it came from
    // (SIZE_MAX: from this file): `written` (an environment file's `channels`), or this file's
    // `channels` when `written` is empty; `defaults` and custom channels replaced by their URLs,
    // other names kept for the channel alias.
    std::vector<std::pair<std::string, size_t>> channels_for(
        const std::vector<std::string>& written) const;
};

// The .condarc conda would read for this process (`CONDARC`, else `$HOME/.condarc`), loaded, with
// its path; nullopt when there is none. Throws bad-input Error for a malformed file.
std::optional<std::pair<Condarc, std::filesystem::path>> condarc_from_environment();

// Applies `rc` to a request, as `envpack lock` and `envpack build` both do: the environment file's
// channels become `rc.channels_for` them (each keeping the position of the entry it came from, for
// errors), the channel alias is the file's unless AliasFrom::command_line (an explicit
// --channel-alias), and `channel_priority: disabled` turns strict priority off (`flexible` is read
// as strict).
enum class AliasFrom : unsigned char { condarc, command_line };
void apply_condarc(const Condarc& rc, EnvSpec& spec, ChannelOptions& channels,
                   SolverOptions& solver, AliasFrom alias);

}  // namespace envpack
