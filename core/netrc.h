// `.netrc` credentials (as curl, pip and conda's requests read them), for HTTP conda channels.
//
// Format: whitespace-separated tokens; `machine HOST` starts an entry, `default` starts the entry
// used for every other host, `login`, `password` and `account` set its fields, `macdef NAME`
// skips its macro (up to an empty line). Tokens may be double-quoted with `\` escapes; `#` at
// the start of a token comments out the rest of the line. The first entry for a host wins. The
// file is `$NETRC` when set, else `~/.netrc`; a missing file means no credentials. A password
// never appears in a message: errors name the file and line only.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/http.h"

namespace envpack {

struct NetrcEntry {
    std::string machine;  // empty for `default`
    std::string login;
    std::string password;
};

class Netrc {
  public:
    // Throws a bad-input Error naming `file` and the line for a keyword without its value.
    static Netrc parse(std::string_view text, std::string_view file);
    // Reads `path`; a missing file is an empty Netrc.
    static Netrc read(const std::filesystem::path& path);
    // $NETRC, else $HOME/.netrc (empty when HOME is unset).
    static std::filesystem::path default_path();
    // `read(default_path())`, read once per process (later calls return the same object).
    static const Netrc& from_environment();

    // The entry for `host` (case-insensitive), else the `default` entry, else nullopt.
    std::optional<NetrcEntry> find(std::string_view host) const;
    bool empty() const { return m_entries.empty(); }

  private:
    std::vector<NetrcEntry> m_entries;
    std::optional<NetrcEntry> m_default;
};

// The `Authorization` header value ("Basic base64(login:password)") `netrc` gives for `url`'s
// host, or nullopt: no entry, an entry without a login, or a URL that carries its own
// credentials (`user:pass@host`, or a conda token path `/t/TOKEN/`).
std::optional<std::string> netrc_authorization(const Netrc& netrc, std::string_view url);

// A request for `url` carrying the environment's `.netrc` (`Netrc::from_environment`)
// `Authorization` header when it has one for the host (never logged: core/http.h).
HttpRequest netrc_request(std::string url);

}  // namespace envpack
