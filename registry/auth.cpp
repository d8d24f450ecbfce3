#include "registry/auth.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/strings.h"

namespace envpack {

using nlohmann::json;

namespace {

std::string url_escape(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

constexpr auto k_token_margin = std::chrono::seconds(10);

}  // namespace

std::vector<AuthChallenge> parse_www_authenticate(std::string_view v) {
    std::vector<AuthChallenge> out;
    size_t i = 0;
    auto skip_ws = [&] {
        while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            ++i;
        }
    };
    auto read_token = [&] {
        size_t start = i;
        while (i < v.size() && v[i] != ' ' && v[i] != '\t' && v[i] != '=' && v[i] != ',') {
            ++i;
        }
        return std::string(v.substr(start, i - start));
    };
    while (i < v.size()) {
        skip_ws();
        if (i >= v.size()) {
            break;
        }
        AuthChallenge ch;
        ch.scheme = to_lower(read_token());
        if (ch.scheme.empty()) {
            ++i;  // a stray '=': skip it
            continue;
        }
        while (true) {
            skip_ws();
            size_t start = i;
            std::string name = read_token();
            if (name.empty()) {
                break;
            }
            if (i >= v.size() || v[i] != '=') {
                i = start;  // not a parameter: the next challenge starts here
                break;
            }
            ++i;  // '='
            std::string value;
            if (i < v.size() && v[i] == '"') {
                ++i;
                while (i < v.size() && v[i] != '"') {
                    if (v[i] == '\\' && i + 1 < v.size()) {
                        ++i;
                    }
                    value += v[i++];
                }
                ++i;  // closing quote
            } else {
                size_t vstart = i;
                while (i < v.size() && v[i] != ',' && v[i] != ' ') {
                    ++i;
                }
                value = std::string(v.substr(vstart, i - vstart));
            }
            ch.params[to_lower(name)] = value;
        }
        out.push_back(std::move(ch));
    }
    return out;
}

std::string repository_scope(std::string_view repository, std::string_view actions) {
    return fmt::format("repository:{}:{}", repository, actions);
}

RegistryAuth::RegistryAuth(HttpClient& http, std::string host, std::optional<Credential> credential,
                           std::string credential_lookup)
    : m_http(http),
      m_host(std::move(host)),
      m_credential(std::move(credential)),
      m_lookup(std::move(credential_lookup)) {}

Clock& RegistryAuth::clock() const {
    return m_http.options().clock != nullptr ? *m_http.options().clock : Clock::real();
}

std::optional<std::string> RegistryAuth::authorization(const std::string& scopes) {
    std::lock_guard lock(m_mutex);
    if (auto it = m_tokens.find(scopes); it != m_tokens.end()) {
        if (clock().now() < it->second.expires) {
            return "Bearer " + it->second.value;
        }
        m_tokens.erase(it);
    }
    if (m_basic && m_credential && !m_credential->password.empty()) {
        return "Basic " + base64_encode(m_credential->username + ":" + m_credential->password);
    }
    return std::nullopt;
}

bool RegistryAuth::handle_unauthorized(const HttpResponse& response, const std::string& scopes,
                                       const std::optional<std::string>& sent) {
    auto header = response.header("www-authenticate");
    if (!header) {
        return false;
    }
    auto challenges = parse_www_authenticate(*header);
    std::lock_guard lock(m_mutex);
    if (auto it = m_tokens.find(scopes); it != m_tokens.end() &&
                                         clock().now() < it->second.expires &&
                                         (!sent || *sent != "Bearer " + it->second.value)) {
        return true;  // a token fetched meanwhile by another request: try that one
    }
    for (const auto& ch : challenges) {
        if (ch.scheme == "bearer" && ch.params.contains("realm")) {
            ++m_token_fetches;
            std::string had = m_tokens.contains(scopes) ? m_tokens[scopes].value : std::string();
            std::string token = fetch_token(ch, scopes);
            if (token.empty() || token == had) {
                return false;  // the same token again: retrying cannot help
            }
            return true;
        }
        if (ch.scheme == "basic") {
            if (!m_credential || m_credential->password.empty()) {
                return false;  // nothing to send
            }
            if (sent ==
                "Basic " + base64_encode(m_credential->username + ":" + m_credential->password)) {
                return false;  // sent and refused
            }
            m_basic = true;
            return true;
        }
    }
    return false;
}

std::string RegistryAuth::fetch_token(const AuthChallenge& ch, const std::string& scopes) {
    const std::string& realm = ch.params.at("realm");
    std::string service = ch.params.contains("service") ? ch.params.at("service") : std::string();
    // Scopes we need, plus the one the challenge names (it may be narrower or wider).
    std::vector<std::string> scope_list;
    for (size_t start = 0; start < scopes.size();) {
        size_t end = scopes.find(' ', start);
        end = end == std::string::npos ? scopes.size() : end;
        if (end > start) {
            scope_list.push_back(scopes.substr(start, end - start));
        }
        start = end + 1;
    }
    if (auto it = ch.params.find("scope");
        it != ch.params.end() &&
        std::find(scope_list.begin(), scope_list.end(), it->second) == scope_list.end()) {
        scope_list.push_back(it->second);
    }
    HttpRequest req;
    std::string query;
    if (!service.empty()) {
        query += "service=" + url_escape(service);
    }
    if (m_credential && !m_credential->identity_token.empty()) {
        // OAuth2 refresh-token grant (docker's identitytoken).
        req.method = "POST";
        req.url = realm;
        std::string form = "grant_type=refresh_token&client_id=envpack&refresh_token=" +
                           url_escape(m_credential->identity_token);
        if (!service.empty()) {
            form += "&service=" + url_escape(service);
        }
        std::string joined;
        for (const auto& s : scope_list) {
            joined += (joined.empty() ? "" : " ") + s;
        }
        if (!joined.empty()) {
            form += "&scope=" + url_escape(joined);
        }
        req.body = form;
        req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    } else {
        for (const auto& s : scope_list) {
            query += (query.empty() ? "" : "&") + std::string("scope=") + url_escape(s);
        }
        req.url = realm +
                  (query.empty() ? "" : (realm.find('?') == std::string::npos ? "?" : "&") + query);
        if (m_credential && !m_credential->password.empty()) {
            req.headers.emplace_back(
                "Authorization",
                "Basic " + base64_encode(m_credential->username + ":" + m_credential->password));
        }
    }
    HttpResponse r = m_http.send(req);
    if (r.status == 401 || r.status == 403) {
        throw rejected(r.status, fmt::format("token request to {}", redact(realm)));
    }
    if (r.status != 200) {
        throw Error(is_transient_http_status(r.status) ? ErrorKind::transient : ErrorKind::protocol,
                    fmt::format("token request to {} for {} failed with HTTP {}", redact(realm),
                                m_host, r.status),
                    "the registry's token service is failing; try again later")
            .with_http_status(r.status);
    }
    json j = json::parse(r.body, nullptr, false);
    std::string token;
    if (j.is_object()) {
        if (j.contains("token") && j["token"].is_string()) {
            token = j["token"].get<std::string>();
        } else if (j.contains("access_token") && j["access_token"].is_string()) {
            token = j["access_token"].get<std::string>();
        }
    }
    if (token.empty()) {
        throw protocol_error(fmt::format("token request to {} for {}: the answer holds no token",
                                         redact(realm), m_host));
    }
    int expires_in = 60;  // the spec's default
    if (j.contains("expires_in") && j["expires_in"].is_number_integer()) {
        expires_in = std::max(j["expires_in"].get<int>(), 0);
    }
    auto lifetime = std::chrono::seconds(expires_in);
    auto expires =
        clock().now() + (lifetime > 2 * k_token_margin ? lifetime - k_token_margin : lifetime / 2);
    m_tokens[scopes] = Token{token, expires};
    return token;
}

Error RegistryAuth::rejected(long status, std::string_view operation) const {
    std::string source = m_credential ? m_credential->source : std::string();
    std::string what = status == 403 ? "denied access" : "refused the credentials";
    if (!m_credential) {
        return auth_error(
                   fmt::format(
                       "{}: registry {} requires authentication (HTTP {}) and no credentials "
                       "were found (looked in {})",
                       operation, m_host, status, m_lookup),
                   fmt::format("log in with `envpack login {} -u USER --password-stdin`", m_host))
            .with_http_status(status);
    }
    return auth_error(
               fmt::format("{}: registry {} {} (HTTP {}) from {}", operation, m_host, what, status,
                           source),
               fmt::format("check the user name and password, then `envpack login {} -u USER "
                           "--password-stdin`",
                           m_host))
        .with_http_status(status);
}

}  // namespace envpack
