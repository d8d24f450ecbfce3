#include "registry/credentials.h"

#include <sys/stat.h>

#include <cstdlib>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"
#include "core/strings.h"

namespace envpack {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// "https://host:5000/v1/" -> "host:5000"
std::string normalize_key(std::string_view key) {
    if (auto p = key.find("://"); p != std::string_view::npos) {
        key.remove_prefix(p + 3);
    }
    if (auto slash = key.find('/'); slash != std::string_view::npos) {
        key = key.substr(0, slash);
    }
    return to_lower(key);
}

bool host_matches(std::string_view key, std::string_view host) {
    std::string k = normalize_key(key);
    std::string h = normalize_key(host);
    if (k == h) {
        return true;
    }
    auto is_docker_hub = [](const std::string& s) {
        return s == "docker.io" || s == "index.docker.io" || s == "registry-1.docker.io";
    };
    return is_docker_hub(k) && is_docker_hub(h);
}

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::string(v) : std::string();
}

}  // namespace

std::string config_key_for(std::string_view host) {
    std::string h = normalize_key(host);
    if (h == "docker.io" || h == "index.docker.io" || h == "registry-1.docker.io") {
        return "https://index.docker.io/v1/";
    }
    return h;
}

fs::path credential_config_path(const CredentialOptions& options) {
    if (!options.auth_file.empty()) {
        return options.auth_file;
    }
    if (std::string f = env_or_empty("REGISTRY_AUTH_FILE"); !f.empty()) {
        return f;
    }
    if (std::string d = env_or_empty("DOCKER_CONFIG"); !d.empty()) {
        return fs::path(d) / "config.json";
    }
    std::string home = env_or_empty("HOME");
    return fs::path(home.empty() ? "/root" : home) / ".docker" / "config.json";
}

std::optional<Credential> run_credential_helper(const std::string& helper,
                                                const std::string& host) {
    std::string program = "docker-credential-" + helper;
    if (!find_in_path(program)) {
        throw Error(fmt::format("credential helper `{}` for {} is not installed", program, host),
                    "install it, or remove it from credHelpers/credsStore in your config.json");
    }
    ProcessOptions po;
    po.stdin_data = host;
    po.timeout = std::chrono::seconds(60);
    ProcessResult r = run_process({program, "get"}, po);
    if (!r.ok()) {
        // "credentials not found in native keychain" is the documented not-found answer.
        if (r.out.find("credentials not found") != std::string::npos ||
            r.err.find("credentials not found") != std::string::npos) {
            return std::nullopt;
        }
        throw Error(
            fmt::format("credential helper `{} get` for {} failed (exit {})", program, host,
                        r.status_code()),
            "run it by hand to see why; its output is not shown because it may hold secrets");
    }
    json j = json::parse(r.out, nullptr, false);
    if (!j.is_object() || !j.contains("Secret") || !j["Secret"].is_string()) {
        throw Error(fmt::format("credential helper `{} get` for {} printed no JSON with a Secret",
                                program, host));
    }
    Credential c;
    std::string user = j.value("Username", "");
    if (user == "<token>") {
        c.identity_token = j["Secret"].get<std::string>();
    } else {
        c.username = user;
        c.password = j["Secret"].get<std::string>();
    }
    c.source = program;
    return c;
}

std::optional<Credential> credential_from_config(const json& config, std::string_view host,
                                                 const std::string& file,
                                                 const CredentialHelper& helper) {
    if (!config.is_object()) {
        return std::nullopt;
    }
    if (auto it = config.find("credHelpers"); it != config.end() && it->is_object()) {
        for (const auto& [key, value] : it->items()) {
            if (host_matches(key, host) && value.is_string()) {
                auto c = helper(value.get<std::string>(), std::string(host));
                if (c && c->source.empty()) {
                    c->source = "docker-credential-" + value.get<std::string>();
                }
                return c;
            }
        }
    }
    if (auto it = config.find("auths"); it != config.end() && it->is_object()) {
        for (const auto& [key, value] : it->items()) {
            if (!host_matches(key, host) || !value.is_object()) {
                continue;
            }
            Credential c;
            c.source = fmt::format("auths[\"{}\"] in {}", key, file);
            if (auto a = value.find("auth");
                a != value.end() && a->is_string() && !a->get<std::string>().empty()) {
                auto decoded = base64_decode(a->get<std::string>());
                auto colon = decoded ? decoded->find(':') : std::string::npos;
                if (colon == std::string::npos) {
                    throw bad_input(
                        fmt::format("{}: auths[\"{}\"].auth is not base64 of USER:PASSWORD", file,
                                    key),
                        "log in again with `envpack login HOST -u USER --password-stdin`");
                }
                c.username = decoded->substr(0, colon);
                c.password = decoded->substr(colon + 1);
            } else if (value.contains("username") && value.contains("password")) {
                c.username = value.value("username", "");
                c.password = value.value("password", "");
            }
            if (auto t = value.find("identitytoken"); t != value.end() && t->is_string()) {
                c.identity_token = t->get<std::string>();
            }
            if (!c.password.empty() || !c.identity_token.empty()) {
                return c;
            }
        }
    }
    if (auto it = config.find("credsStore");
        it != config.end() && it->is_string() && !it->get<std::string>().empty()) {
        auto c = helper(it->get<std::string>(), std::string(host));
        if (c && c->source.empty()) {
            c->source = "docker-credential-" + it->get<std::string>();
        }
        return c;
    }
    return std::nullopt;
}

std::optional<Credential> find_credential(std::string_view host, const CredentialOptions& options,
                                          const CredentialHelper& helper) {
    fs::path file = credential_config_path(options);
    std::error_code ec;
    if (!fs::exists(file, ec)) {
        return std::nullopt;
    }
    std::string text = read_file(file);
    json config = json::parse(text, nullptr, false);
    if (config.is_discarded()) {
        throw bad_input(fmt::format("registry credentials: `{}` is not valid JSON", file.string()),
                        "fix or remove the file (docker's config.json format)");
    }
    return credential_from_config(config, host, file.string(), helper);
}

fs::path store_credential(std::string_view host, const std::string& username,
                          const std::string& password, const CredentialOptions& options) {
    fs::path file = credential_config_path(options);
    json config = json::object();
    std::error_code ec;
    if (fs::exists(file, ec)) {
        config = json::parse(read_file(file), nullptr, false);
        if (!config.is_object()) {
            throw bad_input(fmt::format("login: `{}` is not a JSON object", file.string()),
                            "fix or move the file away, then log in again");
        }
    }
    if (!config.contains("auths") || !config["auths"].is_object()) {
        config["auths"] = json::object();
    }
    std::string key = config_key_for(host);
    // Drop other spellings of the same host so the new entry is the one found.
    for (auto it = config["auths"].begin(); it != config["auths"].end();) {
        if (it.key() != key && host_matches(it.key(), host)) {
            it = config["auths"].erase(it);
        } else {
            ++it;
        }
    }
    json entry = config["auths"].value(key, json::object());
    entry["auth"] = base64_encode(username + ":" + password);
    entry.erase("identitytoken");
    config["auths"][key] = entry;
    if (!file.parent_path().empty()) {
        make_dirs(file.parent_path());
    }
    AtomicFile out(file, Durability::fsync, 0600);
    out.write(config.dump(1, '\t') + "\n");
    out.commit();
    ::chmod(file.c_str(), 0600);
    return file;
}

}  // namespace envpack
