// Registry authentication: `WWW-Authenticate` challenges, Basic, and the Bearer token flow
// (https://distribution.github.io/distribution/spec/auth/token/).
//
// One `RegistryAuth` per registry host. `authorization(scope)` gives the header value to send
// (a cached, unexpired token for that scope, or Basic), and `handle_unauthorized` reacts to a 401:
// it parses the challenge, fetches a token from the realm (with the credential as Basic auth, or
// an identity token as an OAuth2 refresh token) and caches it until `expires_in` (minus a margin).
// Token lifetimes are measured on the HttpClient's clock (`HttpOptions::clock`).
// Secrets never appear in the messages of the Errors it throws: they name the registry and where
// the credential came from.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/http.h"
#include "registry/credentials.h"

namespace envpack {

struct AuthChallenge {
    std::string scheme;                         // lower-cased: "bearer", "basic"
    std::map<std::string, std::string> params;  // realm, service, scope, error (names lower-cased)
};

// Parses a WWW-Authenticate value (one or more challenges, quoted or token values).
std::vector<AuthChallenge> parse_www_authenticate(std::string_view value);

// "repository:team/env:pull,push"
std::string repository_scope(std::string_view repository, std::string_view actions);

class RegistryAuth {
  public:
    // `credential_lookup` says where credentials were looked for (for the error when none exist).
    RegistryAuth(HttpClient& http, std::string host, std::optional<Credential> credential,
                 std::string credential_lookup);

    // The Authorization header value to send for `scopes` (space-separated), if any is known.
    std::optional<std::string> authorization(const std::string& scopes);

    // Reacts to a 401 for `scopes`. Returns true when a new authorization was obtained and the
    // request should be sent again; false when there is nothing new to try.
    // Throws Error when the token server refuses the credential.
    // `sent` is the authorization the refused request carried: when another thread has meanwhile
    // obtained a newer token for the scopes, that one is reused instead of fetching again.
    bool handle_unauthorized(const HttpResponse& response, const std::string& scopes,
                             const std::optional<std::string>& sent = std::nullopt);

    // An Error of kind auth for a 401/403 that persists after authenticating (names registry and
    // source, carries the status).
    Error rejected(long status, std::string_view operation) const;

    const std::optional<Credential>& credential() const { return m_credential; }

  private:
    struct Token {
        std::string value;
        Clock::time_point expires;
    };
    std::string fetch_token(const AuthChallenge& challenge, const std::string& scopes);
    Clock& clock() const;  // the HttpClient's (token expiry follows the same clock as back-off)

    HttpClient& m_http;
    std::string m_host;
    std::optional<Credential> m_credential;
    std::string m_lookup;
    std::mutex m_mutex;
    bool m_basic = false;                   // the registry asked for Basic
    std::map<std::string, Token> m_tokens;  // by scopes
    int m_token_fetches = 0;
};

}  // namespace envpack
