// The OCI distribution client: push images from the local store to a registry, pull them back,
// and answer "does the registry have this tag" for the build cache.
//
// Push: every blob is HEADed first (present blobs are skipped); missing ones are mounted from
// another repository of the same registry when one is known (`RegistryOptions::mount_from`, the
// image's base-name annotation, store names on that registry, `blob_location_cache`), else
// uploaded: POST then one PUT for blobs up to `chunk_size`,
// PATCH chunks with Content-Range then PUT for larger ones. Blobs go `parallel` at a time. A blob
// whose upload session fails (transient or wrong bytes) is started over as a whole (up to
// `retries` times). The manifest is PUT (exact bytes, its own media type) only after every blob is
// confirmed, so a failed push never leaves a manifest whose blobs are missing.
//
// Pull: the manifest is fetched with every OCI and Docker v2 media type accepted; an index or
// manifest list is resolved to `platform` (default linux/amd64). Every manifest and blob is checked
// against its digest while it streams to a temp file in the store; a wrong blob is fetched again
// (up to `retries`), never stored. The manifest is stored and tagged only when every blob is in.
//
// Retries (one owner per failure, see registry/detail/transfer.h): a transient answer (connection
// error, 408, 429, 5xx) to one request is retried by HttpClient, so a 503 on a blob GET, HEAD or
// manifest PUT costs 1 + `retries` requests (5 by default) and then fails with kind transient; an
// upload session is restarted whole instead, 1 + `retries` sessions at most; bytes that arrive
// wrong are fetched again, 1 + `retries` fetches at most. A 401 costs one token fetch (or one
// Basic retry) per challenge, two at most, then fails with kind auth. Errors carry their kind
// (core/error.h): auth, transient, protocol, not_found, network.
//
// Scheme: https, with the system CAs and `ca_cert`. Plain http only for localhost, 127.0.0.0/8,
// ::1 and the hosts in `insecure_hosts` (https is tried first, as docker does).
//
// Credentials (registry/credentials.h) and tokens (registry/auth.h) never appear in messages.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/digest.h"
#include "core/log.h"
#include "registry/credentials.h"
#include "registry/image.h"
#include "registry/reference.h"
#include "registry/store.h"

namespace envpack {

struct RegistryOptions {
    unsigned parallel = 6;                   // blobs transferred at once (skopeo: 6)
    std::uint64_t chunk_size = 32ull << 20;  // larger blobs go up in PATCH chunks of this
    int retries = 4;                         // per request and per blob, after the first try
    std::chrono::milliseconds backoff{500};  // first retry delay, doubled each time
    std::chrono::milliseconds low_speed_timeout{30000};  // abort a transfer stalled this long
    std::vector<std::string> insecure_hosts;             // --insecure-registry HOST[:PORT]
    std::string ca_cert;                                 // --ca-cert FILE, on top of the system CAs
    std::filesystem::path auth_file;      // empty: REGISTRY_AUTH_FILE, DOCKER_CONFIG, ~/.docker
    Platform platform;                    // picked from an index on pull
    std::vector<std::string> mount_from;  // repositories (same registry) to mount from
    // Where blobs were seen on each registry (a mount hint); empty: none. The CLI uses
    // $ENVPACK_HOME/registry-blobs.json.
    std::filesystem::path blob_location_cache;
    Clock* clock = nullptr;  // paces back-off and token expiry; nullptr: Clock::real()
};

struct PushResult {
    Digest manifest_digest;
    std::string media_type;
    std::vector<Digest> skipped;  // already in the registry (HEAD 200)
    std::vector<Digest> mounted;  // cross-repository mount (201)
    std::vector<Digest> uploaded;
    std::uint64_t bytes_uploaded = 0;
};

struct PullResult {
    Digest manifest_digest;              // the stored (platform) manifest
    std::optional<Digest> index_digest;  // when the reference named an index / manifest list
    std::string media_type;
    std::string stored_name;
    std::vector<Digest> present;  // already in the local store
    std::vector<Digest> downloaded;
    std::uint64_t bytes_downloaded = 0;
};

class RegistryClient {
  public:
    // `log` receives retries (redacted) and per-blob info at -v.
    explicit RegistryClient(RegistryOptions options = {}, Log& log = Log::null());
    ~RegistryClient();
    RegistryClient(const RegistryClient&) = delete;
    RegistryClient& operator=(const RegistryClient&) = delete;

    // Pushes the store's image `source` (a store name) to `dest`. Throws Error on failure.
    PushResult push(Store& store, std::string_view source, const ImageRef& dest);
    // Pulls `ref` into the store under `ref.store_name()`.
    PullResult pull(Store& store, const ImageRef& ref);
    // The manifest descriptor `ref` names in the registry (HEAD, then GET when the registry
    // sends no digest); nullopt when the registry answers 404.
    std::optional<Descriptor> resolve(const ImageRef& ref);
    // Checks `credential` against `host` (GET /v2/ with Basic or a token), as `docker login`
    // does before saving. Throws the auth Error when the registry refuses it.
    void check_credential(const std::string& host, const Credential& credential);
    // Tags of a repository, every page followed (Link headers).
    std::vector<std::string> list_tags(const ImageRef& repository);

    const RegistryOptions& options() const { return m_options; }

    struct Impl;  // defined in registry/detail/client_impl.h, used only by registry/client*.cpp

  private:
    std::unique_ptr<Impl> m_impl;
    RegistryOptions m_options;
};

// The library calls the builder uses for `envpack build --push REF`:
//   if (remote_has_tag(ref.with_tag(cache_tag), options)) { reuse } else { build; push_image(...) }
bool remote_has_tag(const ImageRef& ref, const RegistryOptions& options = {});
PushResult push_image(Store& store, std::string_view source, const ImageRef& dest,
                      const RegistryOptions& options = {}, Log& log = Log::null());

// Whether plain http may be used for `host` ("localhost:5000", "127.0.0.1:5000", "[::1]:5000" or
// one of `insecure_hosts`, matched with or without the port).
bool allows_plain_http(std::string_view host, const std::vector<std::string>& insecure_hosts);
// Picks the manifest for `platform` from an index; nullopt when none matches.
std::optional<Descriptor> pick_platform(const nlohmann::json& index, const Platform& platform);

}  // namespace envpack
