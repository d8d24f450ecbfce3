// Private to registry/client*.cpp: the per-registry endpoint (base URL, auth) and the request
// helper that adds authorization and answers 401 challenges.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "core/http.h"
#include "registry/auth.h"
#include "registry/client.h"

namespace envpack::detail {

struct Endpoint {
    std::string host;  // as in the reference ("docker.io", "127.0.0.1:5000")
    std::string base;  // "https://registry-1.docker.io"
    std::unique_ptr<RegistryAuth> auth;
    bool verify_tls = true;  // off only for hosts named with --insecure-registry
};

// The Accept header for manifests: every OCI and Docker v2 type.
extern const char* const k_manifest_accept;

// A registry error body ({"errors":[{"code","message"}]}) as "CODE: message; ..."; else a short,
// redacted excerpt of the body; "" for an empty body.
std::string describe_error_body(const HttpResponse& response);

// True when the response is an HTML page (a proxy, a login portal, a web server).
bool is_html(const HttpResponse& response);

}  // namespace envpack::detail

namespace envpack {

struct RegistryClient::Impl {
    RegistryOptions options;
    Log& log;
    HttpClient http;
    std::mutex mutex;
    std::map<std::string, std::unique_ptr<detail::Endpoint>> endpoints;

    Impl(RegistryOptions o, Log& l);
    // The endpoint for a host, probed (GET /v2/) on first use.
    detail::Endpoint& endpoint(const std::string& host);
    // Sends with authorization for `scopes`, answering up to two 401 challenges. A 401/403 that
    // persists throws the auth error naming the registry and the credential source.
    HttpResponse send(detail::Endpoint& ep, HttpRequest request, const std::string& scopes,
                      std::string_view operation);
};

}  // namespace envpack
