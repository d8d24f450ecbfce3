#include "registry/client.h"

#include <arpa/inet.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/strings.h"
#include "registry/detail/client_impl.h"
#include "registry/detail/transfer.h"

namespace envpack {

using nlohmann::json;

namespace detail {

const char* const k_manifest_accept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

bool is_html(const HttpResponse& response) {
    std::string type = response.header("content-type").value_or("");
    if (type.find("text/html") != std::string::npos) {
        return true;
    }
    std::string_view body = trim_left(response.body);
    return body.starts_with("<!DOCTYPE") || body.starts_with("<!doctype") ||
           body.starts_with("<html");
}

std::string describe_error_body(const HttpResponse& response) {
    if (response.body.empty()) {
        return {};
    }
    if (is_html(response)) {
        return "an HTML page instead of a registry answer";
    }
    json j = json::parse(response.body, nullptr, false);
    if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
        std::string out;
        for (const auto& e : j["errors"]) {
            if (!e.is_object()) {
                continue;
            }
            out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", e.value("code", "?"),
                               e.value("message", ""));
        }
        return redact(out);
    }
    std::string excerpt = response.body.substr(0, 200);
    for (char& c : excerpt) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    return redact(excerpt);
}

}  // namespace detail

namespace {

std::string host_without_port(std::string_view host) {
    if (host.starts_with("[")) {
        auto close = host.find(']');
        return std::string(
            host.substr(1, close == std::string_view::npos ? host.size() - 1 : close - 1));
    }
    if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
        return std::string(host.substr(0, colon));
    }
    return std::string(host);
}

std::string api_host(const std::string& host) {
    if (host == "docker.io" || host == "index.docker.io") {
        return "registry-1.docker.io";
    }
    return host;
}

}  // namespace

bool allows_plain_http(std::string_view host, const std::vector<std::string>& insecure_hosts) {
    std::string bare = host_without_port(host);
    if (bare == "localhost" || bare == "::1") {
        return true;
    }
    in_addr addr{};
    if (inet_pton(AF_INET, bare.c_str(), &addr) == 1 && (ntohl(addr.s_addr) >> 24) == 127) {
        return true;
    }
    for (const auto& h : insecure_hosts) {
        if (h == host || h == bare) {
            return true;
        }
    }
    return false;
}

std::optional<Descriptor> pick_platform(const json& index, const Platform& platform) {
    if (!index.contains("manifests") || !index["manifests"].is_array()) {
        return std::nullopt;
    }
    std::optional<Descriptor> fallback;
    for (const auto& m : index["manifests"]) {
        Descriptor d = Descriptor::from_json(m, "index entry");
        if (!d.platform || d.platform->os != platform.os ||
            d.platform->architecture != platform.architecture) {
            continue;
        }
        if (d.platform->variant == platform.variant) {
            return d;
        }
        if (platform.variant.empty() && !fallback) {
            fallback = d;  // linux/arm64 matches linux/arm64/v8
        }
    }
    return fallback;
}

RegistryClient::Impl::Impl(RegistryOptions o, Log& l)
    : options(std::move(o)), log(l), http([&] {
          HttpOptions h;
          h.retries = options.retries;
          h.backoff = options.backoff;
          h.low_speed_timeout = options.low_speed_timeout;
          h.ca_file = options.ca_cert;
          h.on_retry = [&l](const std::string& message) { l.warn(message); };
          h.clock = options.clock;
          return h;
      }()) {}

detail::Endpoint& RegistryClient::Impl::endpoint(const std::string& host) {
    std::lock_guard lock(mutex);
    if (auto it = endpoints.find(host); it != endpoints.end()) {
        return *it->second;
    }
    bool plain_ok = allows_plain_http(host, options.insecure_hosts);
    // Only a host the user named as insecure skips certificate checks (loopback hosts do not).
    bool explicit_insecure = std::find(options.insecure_hosts.begin(), options.insecure_hosts.end(),
                                       host) != options.insecure_hosts.end() ||
                             std::find(options.insecure_hosts.begin(), options.insecure_hosts.end(),
                                       host_without_port(host)) != options.insecure_hosts.end();
    std::vector<std::string> schemes = {"https"};
    if (plain_ok) {
        schemes.push_back("http");
    }
    std::string chosen;
    std::optional<Error> tls_error;
    for (const auto& scheme : schemes) {
        HttpRequest probe;
        probe.url = fmt::format("{}://{}/v2/", scheme, api_host(host));
        probe.verify_tls = !explicit_insecure;
        bool last = scheme == schemes.back();
        if (!last) {
            probe.retries = 0;  // a plain-http server fails TLS at once; no point in retrying
        }
        HttpResponse r;
        try {
            r = http.send(probe);
        } catch (const Error& e) {
            if (!last) {
                tls_error = e;
                continue;
            }
            // When https got an answer that was not TLS we could trust (kind network: handshake,
            // certificate), that is the story; when nothing listened (kind transient), the
            // plain-http failure is.
            if (tls_error && tls_error->kind() == ErrorKind::network) {
                throw tls_error->with_context(fmt::format("registry {}", host));
            }
            throw e.with_context(fmt::format("registry {}", host));
        }
        if (scheme == "http" && r.status == 400 && tls_error) {
            // A TLS server answering our plain request: the https failure is the real story.
            throw tls_error->with_context(fmt::format("registry {}", host));
        }
        if (r.status == 200 || r.status == 401) {
            if (detail::is_html(r)) {
                throw protocol_error(
                    fmt::format("registry {}: {} answered with an HTML page, not the OCI "
                                "distribution API",
                                host, probe.url),
                    "check the host and port: this looks like a web server or a login portal");
            }
            chosen = fmt::format("{}://{}", scheme, api_host(host));
            break;
        }
        std::string detail = detail::describe_error_body(r);
        bool transient = is_transient_http_status(r.status);
        throw Error(transient ? ErrorKind::transient : ErrorKind::protocol,
                    fmt::format("registry {}: GET {} answered HTTP {}{}{}{}", host, probe.url,
                                r.status, detail.empty() ? "" : ", ", detail,
                                transient ? "" : ": not an OCI distribution registry"),
                    transient ? "the registry is failing; try again later"
                              : "check the host and port of the reference")
            .with_http_status(r.status);
    }
    CredentialOptions co;
    co.auth_file = options.auth_file;
    std::optional<Credential> credential = find_credential(host, co);
    auto ep = std::make_unique<detail::Endpoint>();
    ep->host = host;
    ep->base = chosen;
    ep->verify_tls = !explicit_insecure;
    ep->auth = std::make_unique<RegistryAuth>(http, host, std::move(credential),
                                              credential_config_path(co).string());
    auto& ref = *ep;
    endpoints.emplace(host, std::move(ep));
    return ref;
}

HttpResponse RegistryClient::Impl::send(detail::Endpoint& ep, HttpRequest request,
                                        const std::string& scopes, std::string_view operation) {
    const auto base_headers = request.headers;
    for (int round = 0;; ++round) {
        request.headers = base_headers;
        request.verify_tls = ep.verify_tls;
        auto authz = ep.auth->authorization(scopes);
        if (authz) {
            request.headers.emplace_back("Authorization", *authz);
        }
        HttpResponse r = http.send(request);
        if (r.status != 401 && r.status != 403) {
            return r;
        }
        log.debug(fmt::format("{} {}: HTTP {} ({} authorization sent; challenge: {})",
                              request.method, redact(request.url), r.status,
                              authz ? authz->substr(0, authz->find(' ')) : "no",
                              redact(r.header("www-authenticate").value_or("none"))));
        if (r.status == 401 && round < 2 && ep.auth->handle_unauthorized(r, scopes, authz)) {
            continue;
        }
        throw ep.auth->rejected(r.status, operation);
    }
}

RegistryClient::RegistryClient(RegistryOptions options, Log& log)
    : m_impl(std::make_unique<Impl>(options, log)), m_options(std::move(options)) {}

RegistryClient::~RegistryClient() = default;

std::optional<Descriptor> RegistryClient::resolve(const ImageRef& ref) {
    auto& ep = m_impl->endpoint(ref.registry_host());
    std::string repo = ref.remote_repository();
    std::string scopes = repository_scope(repo, "pull");
    std::string operation = fmt::format("resolve {}", ref.to_string());
    for (std::string method : {"HEAD", "GET"}) {
        HttpRequest req;
        req.method = method;
        req.url = fmt::format("{}/v2/{}/manifests/{}", ep.base, repo, ref.remote_reference());
        req.headers.emplace_back("Accept", detail::k_manifest_accept);
        HttpResponse r = m_impl->send(ep, req, scopes, operation);
        if (r.status == 404) {
            return std::nullopt;
        }
        if (r.status != 200) {
            throw detail::status_error(operation, req, r);
        }
        auto digest_header = r.header("docker-content-digest");
        if (method == "HEAD" && !digest_header) {
            continue;  // no digest in the HEAD answer: GET and hash the bytes
        }
        Descriptor d;
        d.media_type = r.header("content-type").value_or("");
        if (method == "GET") {
            if (detail::is_html(r)) {
                throw protocol_error(fmt::format(
                    "{}: {} answered with an HTML page instead of a manifest", operation, req.url));
            }
            d.digest = Digest::of(r.body);
            d.size = static_cast<std::int64_t>(r.body.size());
        } else {
            d.digest = Digest::parse_or_throw(*digest_header, "Docker-Content-Digest header");
            d.size = std::stoll(r.header("content-length").value_or("0"));
        }
        return d;
    }
    return std::nullopt;
}

void RegistryClient::check_credential(const std::string& host, const Credential& credential) {
    auto& ep = m_impl->endpoint(host);
    detail::Endpoint probe;
    probe.host = host;
    probe.base = ep.base;
    probe.auth = std::make_unique<RegistryAuth>(m_impl->http, host, credential, credential.source);
    HttpRequest req;
    req.url = ep.base + "/v2/";
    HttpResponse r = m_impl->send(probe, req, "", fmt::format("log in to {}", host));
    if (r.status != 200) {
        throw detail::status_error(fmt::format("log in to {}", host), req, r);
    }
}

std::vector<std::string> RegistryClient::list_tags(const ImageRef& repository) {
    auto& ep = m_impl->endpoint(repository.registry_host());
    std::string repo = repository.remote_repository();
    std::string scopes = repository_scope(repo, "pull");
    std::vector<std::string> tags;
    std::string url = fmt::format("{}/v2/{}/tags/list?n=1000", ep.base, repo);
    for (int page = 0; !url.empty() && page < 10000; ++page) {
        HttpRequest req;
        req.url = url;
        HttpResponse r = m_impl->send(ep, req, scopes, fmt::format("list tags of {}", repo));
        if (r.status == 404) {
            return tags;
        }
        json j = json::parse(r.body, nullptr, false);
        if (r.status != 200) {
            throw detail::status_error(fmt::format("list tags of {}", repo), req, r);
        }
        if (!j.is_object()) {
            throw protocol_error(
                fmt::format("list tags of {}: GET {} answered something that is "
                            "not a JSON object: {}",
                            repo, url, detail::describe_error_body(r)));
        }
        if (j.contains("tags") && j["tags"].is_array()) {
            for (const auto& t : j["tags"]) {
                if (t.is_string()) {
                    tags.push_back(t.get<std::string>());
                }
            }
        }
        url.clear();
        // Link: </v2/repo/tags/list?n=1000&last=x>; rel="next"
        if (auto link = r.header("link"); link && link->find("rel=\"next\"") != std::string::npos) {
            auto open = link->find('<');
            auto close = link->find('>');
            if (open != std::string::npos && close != std::string::npos && close > open) {
                url = resolve_url(req.url, link->substr(open + 1, close - open - 1));
            }
        }
    }
    return tags;
}

bool remote_has_tag(const ImageRef& ref, const RegistryOptions& options) {
    RegistryClient client(options);
    return client.resolve(ref).has_value();
}

PushResult push_image(Store& store, std::string_view source, const ImageRef& dest,
                      const RegistryOptions& options, Log& log) {
    RegistryClient client(options, log);
    return client.push(store, source, dest);
}

}  // namespace envpack
