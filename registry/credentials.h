// Registry credentials as docker, podman and skopeo find them.
//
// Lookup order for a registry host: the file named by `CredentialOptions::auth_file`, else
// $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json. In that file,
// `credHelpers[host]` wins, then an `auths` entry (base64 `auth` "user:password", or an
// `identitytoken`), then `credsStore` (a `docker-credential-NAME` helper asked with `get`).
// Keys in `auths` match with or without a scheme and a trailing path ("https://host/v1/");
// docker.io is also found as "https://index.docker.io/v1/".
//
// A Credential's `source` says where it came from (for error messages) and never holds the secret.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/base64.h"  // base64_encode/decode of `auth` entries (were here)

namespace envpack {

struct Credential {
    std::string username;
    std::string password;        // or a registry token
    std::string identity_token;  // an OAuth2 refresh token (docker `identitytoken`)
    std::string source;          // "auths in /root/.docker/config.json", "docker-credential-pass"
};

struct CredentialOptions {
    std::filesystem::path auth_file;  // empty: the lookup order above
};

// The config file the lookup would read (it may not exist).
std::filesystem::path credential_config_path(const CredentialOptions& options);

// Runs `docker-credential-NAME get` with the host on stdin; nullopt when the helper has no entry.
// Throws Error when the helper cannot be run or fails otherwise.
using CredentialHelper =
    std::function<std::optional<Credential>(const std::string& helper, const std::string& host)>;
std::optional<Credential> run_credential_helper(const std::string& helper, const std::string& host);

// Pure lookup in a parsed config (helpers are called through `helper`). `file` names the config in
// `Credential::source`. Throws a bad-input Error for a malformed `auth` value.
std::optional<Credential> credential_from_config(const nlohmann::json& config,
                                                 std::string_view host, const std::string& file,
                                                 const CredentialHelper& helper);

// Reads the config and looks `host` up. A missing file means no credential; a malformed one throws
// a bad-input Error naming the file.
std::optional<Credential> find_credential(std::string_view host, const CredentialOptions& options,
                                          const CredentialHelper& helper = run_credential_helper);

// Records user:password for `host` under `auths` the way `docker login` does (keeping every other
// key of the file), atomically and with mode 0600. Returns the file written.
std::filesystem::path store_credential(std::string_view host, const std::string& username,
                                       const std::string& password,
                                       const CredentialOptions& options);

// The config key docker uses for a host ("https://index.docker.io/v1/" for docker.io).
std::string config_key_for(std::string_view host);

}  // namespace envpack
