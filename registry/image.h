// OCI image documents as values: descriptors, manifests, image configs, and their media types.
// JSON (de)serialisation is canonical (keys sorted by nlohmann::json, no whitespace), so the
// same values always give the same bytes and therefore the same digest.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/digest.h"

namespace envpack {

namespace media_type {
inline constexpr const char* k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* k_oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* k_oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* k_oci_layer_tar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* k_oci_layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* k_oci_layer_zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr const char* k_docker_manifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* k_docker_manifest_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* k_docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* k_docker_layer_gzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
}  // namespace media_type

namespace annotation {
inline constexpr const char* k_ref_name = "org.opencontainers.image.ref.name";
inline constexpr const char* k_created = "org.opencontainers.image.created";
inline constexpr const char* k_base_name = "org.opencontainers.image.base.name";
inline constexpr const char* k_base_digest = "org.opencontainers.image.base.digest";
}  // namespace annotation

struct Platform {
    std::string os = "linux";
    std::string architecture = "amd64";
    std::string variant;
    // "linux/amd64", "linux/arm64/v8"
    std::string to_string() const;
    static std::optional<Platform> parse(std::string_view text);
    bool operator==(const Platform&) const = default;
};

struct Descriptor {
    std::string media_type;
    Digest digest;
    std::int64_t size = 0;
    std::map<std::string, std::string> annotations;
    std::optional<Platform> platform;

    nlohmann::json to_json() const;
    // Throws a bad-input Error naming `where` when fields are missing or of the wrong type.
    static Descriptor from_json(const nlohmann::json& j, std::string_view where);
};

struct Manifest {
    std::string media_type = media_type::k_oci_manifest;
    Descriptor config;
    std::vector<Descriptor> layers;
    std::map<std::string, std::string> annotations;

    // The exact bytes stored and pushed (canonical JSON).
    std::string to_bytes() const;
    static Manifest parse(std::string_view bytes, std::string_view where);
};

// The parts of the image config envpack reads and writes; unknown fields of a parsed config are
// kept in `raw` so a base image's config survives a rebuild on top of it.
struct ImageConfig {
    Platform platform;
    std::string created;           // RFC 3339, "1970-01-01T00:00:00Z" for reproducibility
    std::vector<std::string> env;  // "KEY=VALUE"
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    std::string working_dir;
    std::string user;
    std::map<std::string, std::string> labels;
    std::vector<Digest> diff_ids;
    std::vector<nlohmann::json> history;  // {"created_by": ..., "empty_layer": ...}
    nlohmann::json raw = nlohmann::json::object();

    std::string to_bytes() const;
    static ImageConfig parse(std::string_view bytes, std::string_view where);
};

// Media type of a layer for a compression name ("gzip", "zstd", "none").
std::string layer_media_type(std::string_view compression);

}  // namespace envpack
