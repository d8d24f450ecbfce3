// RegistryClient::push: blob uploads (HEAD, mount, monolithic or chunked), then manifests.
#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "registry/client.h"
#include "registry/detail/blob_locations.h"
#include "registry/detail/client_impl.h"
#include "registry/detail/transfer.h"

namespace envpack {

using detail::BlobOutcome;
using detail::is_index;
using detail::RestartOn;
using detail::run_parallel;
using detail::session_status_error;
using detail::status_error;
using detail::with_query;
using detail::with_restarts;
using nlohmann::json;

namespace {

struct PushContext {
    PushContext(RegistryClient::Impl& i, detail::Endpoint& e, Store& s, std::string r)
        : impl(i), ep(e), store(s), repo(std::move(r)) {}
    RegistryClient::Impl& impl;
    detail::Endpoint& ep;
    Store& store;
    std::string repo;
    std::string scopes;
    std::vector<std::string> mount_from;           // tried for every blob
    std::map<Digest, std::string> known_location;  // blob -> a repository on this registry
    std::set<std::string> scopes_extra;            // repositories we may mount from (pull scope)
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<bool> mount_disabled{false};
};

// A request of an upload session: never retried alone (the session is restarted as a whole by
// with_restarts when this throws kind transient or protocol).
HttpResponse session_send(PushContext& c, HttpRequest req, std::string_view operation) {
    req.retries = 0;
    return c.impl.send(c.ep, std::move(req), c.scopes, operation);
}

std::string upload_location(PushContext& c, const HttpRequest& req, const HttpResponse& r,
                            std::string_view operation) {
    auto loc = r.header("location");
    if (!loc || loc->empty()) {
        throw protocol_error(fmt::format("{}: {} {} answered HTTP {} without a Location header",
                                         operation, req.method, req.url, r.status));
    }
    return resolve_url(req.url, *loc);
}

BlobOutcome push_blob(PushContext& c, const Descriptor& blob) {
    std::string operation = fmt::format("push blob {} to {}", blob.digest.to_string(), c.repo);
    std::string blob_url =
        fmt::format("{}/v2/{}/blobs/{}", c.ep.base, c.repo, blob.digest.to_string());
    {
        HttpRequest head;
        head.method = "HEAD";
        head.url = blob_url;
        HttpResponse r = c.impl.send(c.ep, head, c.scopes, operation);
        if (r.status == 200) {
            return BlobOutcome::skipped;
        }
    }
    std::filesystem::path file = c.store.blob_path(blob.digest);
    if (!c.store.has_blob(blob.digest)) {
        throw Error(fmt::format("{}: the blob is missing from the local store {}", operation,
                                c.store.root().string()),
                    "the image is incomplete locally; pull or rebuild it");
    }
    std::uint64_t size = std::filesystem::file_size(file);
    return with_restarts(
        c.impl.options, c.impl.log, operation, RestartOn::session_failure, [&]() -> BlobOutcome {
            std::string location;
            std::vector<std::string> sources;
            if (auto it = c.known_location.find(blob.digest); it != c.known_location.end()) {
                sources.push_back(it->second);
            }
            for (const auto& m : c.mount_from) {
                if (std::find(sources.begin(), sources.end(), m) == sources.end() &&
                    sources.size() < 3) {
                    sources.push_back(m);
                }
            }
            if (c.mount_disabled) {
                sources.clear();
            }
            for (const auto& from : sources) {
                HttpRequest mount;
                mount.method = "POST";
                mount.url = fmt::format("{}/v2/{}/blobs/uploads/?mount={}&from={}", c.ep.base,
                                        c.repo, blob.digest.to_string(), from);
                HttpResponse r;
                try {
                    r = session_send(c, mount, operation);
                } catch (const Error& e) {
                    if (detail::restartable(e.kind(), RestartOn::session_failure)) {
                        throw;
                    }
                    // Not allowed to read the source repository: upload instead, and stop trying.
                    c.impl.log.info(
                        fmt::format("{}: no mount from {} ({})", operation, from, e.what()));
                    c.mount_disabled = true;
                    break;
                }
                if (r.status == 201) {
                    return BlobOutcome::mounted;
                }
                if (r.status == 202) {
                    location = upload_location(c, mount, r, operation);  // fall back to uploading
                    break;
                }
                if (is_transient_http_status(r.status)) {
                    throw session_status_error(operation, mount, r);
                }
            }
            if (location.empty()) {
                HttpRequest start;
                start.method = "POST";
                start.url = fmt::format("{}/v2/{}/blobs/uploads/", c.ep.base, c.repo);
                HttpResponse r = session_send(c, start, operation);
                if (r.status != 202) {
                    throw session_status_error(operation, start, r);
                }
                location = upload_location(c, start, r, operation);
            }
            std::uint64_t sent = 0;
            if (size > c.impl.options.chunk_size) {
                std::uint64_t chunk = std::max<std::uint64_t>(c.impl.options.chunk_size, 1);
                for (std::uint64_t offset = 0; offset < size; offset += chunk) {
                    std::uint64_t length = std::min(chunk, size - offset);
                    HttpRequest patch;
                    patch.method = "PATCH";
                    patch.url = location;
                    patch.body_file = file;
                    patch.body_offset = offset;
                    patch.body_length = length;
                    patch.headers.emplace_back("Content-Type", "application/octet-stream");
                    patch.headers.emplace_back("Content-Range",
                                               fmt::format("{}-{}", offset, offset + length - 1));
                    HttpResponse r = session_send(c, patch, operation);
                    if (r.status != 202 && r.status != 204) {
                        throw session_status_error(operation, patch, r);
                    }
                    location = upload_location(c, patch, r, operation);
                    sent += length;
                }
            }
            HttpRequest put;
            put.method = "PUT";
            put.url = with_query(location, "digest=" + blob.digest.to_string());
            put.headers.emplace_back("Content-Type", "application/octet-stream");
            if (sent == 0) {
                put.body_file = file;
                put.body_length = size;
                if (size == 0) {
                    put.body = std::string();
                    put.body_file.clear();
                }
            }
            HttpResponse r = session_send(c, put, operation);
            if (r.status != 201 && r.status != 204) {
                throw session_status_error(operation, put, r);
            }
            if (auto d = r.header("docker-content-digest"); d && *d != blob.digest.to_string()) {
                throw protocol_error(
                    fmt::format("{}: the registry stored {} instead", operation, *d));
            }
            c.bytes += size;
            return BlobOutcome::uploaded;
        });
}

void put_manifest(PushContext& c, const std::string& bytes, const std::string& media_type,
                  const std::string& reference) {
    std::string operation = fmt::format("push manifest {}:{}", c.repo, reference);
    Digest expected = Digest::of(bytes);
    {
        // Already there under this name (an unchanged re-push): nothing to write.
        HttpRequest head;
        head.method = "HEAD";
        head.url = fmt::format("{}/v2/{}/manifests/{}", c.ep.base, c.repo, reference);
        head.headers.emplace_back("Accept", media_type);
        HttpResponse r = c.impl.send(c.ep, head, c.scopes, operation);
        if (r.status == 200 && r.header("docker-content-digest") == expected.to_string()) {
            return;
        }
    }
    // One request: HttpClient retries a transient answer (the PUT is idempotent); no restarts.
    HttpRequest put;
    put.method = "PUT";
    put.url = fmt::format("{}/v2/{}/manifests/{}", c.ep.base, c.repo, reference);
    put.body = bytes;
    put.headers.emplace_back("Content-Type", media_type);
    HttpResponse r = c.impl.send(c.ep, put, c.scopes, operation);
    if (r.status != 201 && r.status != 200 && r.status != 202) {
        throw status_error(operation, put, r,
                           r.status == 400
                               ? "the registry rejected the manifest (a blob it names may be "
                                 "missing, or the media type is not supported)"
                               : std::string());
    }
    if (auto d = r.header("docker-content-digest"); d && *d != expected.to_string()) {
        throw protocol_error(fmt::format("{}: the registry recorded digest {} for manifest {}",
                                         operation, *d, expected.to_string()));
    }
}

std::string manifest_media_type(const Descriptor& d, const json& j) {
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) {
        return j["mediaType"].get<std::string>();
    }
    if (!d.media_type.empty()) {
        return d.media_type;
    }
    return is_index("", j) ? media_type::k_oci_index : media_type::k_oci_manifest;
}

}  // namespace

PushResult RegistryClient::push(Store& store, std::string_view source, const ImageRef& dest) {
    Descriptor top = store.resolve_or_throw(source);
    FileLock keep_blobs = store.writer_lock();  // gc must not delete what we are sending
    auto& ep = m_impl->endpoint(dest.registry_host());
    PushContext c(*m_impl, ep, store, dest.remote_repository());
    // Repositories to mount from: the options, and the base image when it is on this registry.
    std::vector<std::string> mount_from;
    for (const auto& m : m_options.mount_from) {
        mount_from.push_back(m);
    }
    // Gather manifests (an index's children first) and their blobs.
    struct ManifestBytes {
        Descriptor d;
        std::string bytes;
        std::string media_type;
    };
    std::vector<ManifestBytes> children;
    ManifestBytes root{top, store.read_blob(top.digest), ""};
    json root_json = json::parse(root.bytes, nullptr, false);
    root.media_type = manifest_media_type(top, root_json);
    std::vector<Descriptor> blobs;
    std::set<Digest> seen;
    auto add_image = [&](const std::string& bytes, std::string_view where) {
        Manifest m = Manifest::parse(bytes, where);
        if (auto it = m.annotations.find(annotation::k_base_name); it != m.annotations.end()) {
            if (auto base = ImageRef::try_parse(it->second);
                base && base->registry_host() == dest.registry_host() &&
                base->remote_repository() != c.repo) {
                mount_from.push_back(base->remote_repository());
            }
        }
        for (const auto& d : std::vector<Descriptor>{m.config}) {
            if (seen.insert(d.digest).second) {
                blobs.push_back(d);
            }
        }
        for (const auto& d : m.layers) {
            if (seen.insert(d.digest).second) {
                blobs.push_back(d);
            }
        }
    };
    if (is_index(root.media_type, root_json)) {
        for (const auto& entry : root_json["manifests"]) {
            Descriptor d = Descriptor::from_json(entry, fmt::format("index of {}", source));
            if (!store.has_blob(d.digest)) {
                throw Error(
                    fmt::format("push {}: manifest {} of the index is not in the local store",
                                source, d.digest.to_string()),
                    "pull the image with all its platforms first, or push one platform");
            }
            ManifestBytes child{d, store.read_blob(d.digest), ""};
            child.media_type = manifest_media_type(d, json::parse(child.bytes, nullptr, false));
            add_image(child.bytes, d.digest.to_string());
            children.push_back(std::move(child));
        }
    } else {
        add_image(root.bytes, std::string(source));
    }
    // Where this registry had each blob before (pushes and pulls of earlier runs), then the images
    // in the local store named on this registry.
    detail::BlobLocations locations(m_options.blob_location_cache);
    for (auto& [digest, repo] : locations.for_host(dest.registry_host())) {
        if (repo != c.repo) {
            c.known_location.emplace(digest, repo);
        }
    }
    // Images in the local store named on this registry tell where a blob already is.
    for (const auto& img : store.list()) {
        auto name = ImageRef::try_parse(img.name);
        if (!name || name->registry_host() != dest.registry_host() ||
            name->remote_repository() == c.repo || !store.has_blob(img.manifest.digest)) {
            continue;
        }
        try {
            Manifest m = store.read_manifest(img.manifest);
            c.known_location.emplace(m.config.digest, name->remote_repository());
            for (const auto& l : m.layers) {
                c.known_location.emplace(l.digest, name->remote_repository());
            }
        } catch (const Error&) {
            // an index or an unreadable entry: no hint from it
        }
    }
    for (const auto& blob : blobs) {
        if (auto it = c.known_location.find(blob.digest);
            it != c.known_location.end() &&
            std::find(mount_from.begin(), mount_from.end(), it->second) == mount_from.end()) {
            c.scopes_extra.insert(it->second);
        }
    }
    std::sort(mount_from.begin(), mount_from.end());
    mount_from.erase(std::unique(mount_from.begin(), mount_from.end()), mount_from.end());
    std::erase(mount_from, c.repo);
    c.mount_from = mount_from;
    c.scopes = repository_scope(c.repo, "pull,push");
    for (const auto& m : mount_from) {
        c.scopes_extra.insert(m);
    }
    for (const auto& m : c.scopes_extra) {
        c.scopes += " " + repository_scope(m, "pull");
    }

    PushResult result;
    std::mutex result_mutex;
    Progress progress(m_impl->log, fmt::format("push {}", dest.to_string()), blobs.size());
    std::vector<std::function<void()>> jobs;
    for (const auto& blob : blobs) {
        jobs.emplace_back([&, blob] {
            BlobOutcome outcome = push_blob(c, blob);
            std::lock_guard lock(result_mutex);
            (outcome == BlobOutcome::skipped   ? result.skipped
             : outcome == BlobOutcome::mounted ? result.mounted
                                               : result.uploaded)
                .push_back(blob.digest);
            progress.add(1);
        });
    }
    run_parallel(m_options.parallel, std::move(jobs));
    progress.done();
    for (const auto& child : children) {
        put_manifest(c, child.bytes, child.media_type, child.d.digest.to_string());
    }
    std::string reference = dest.tag().empty() && dest.digest()
                                ? dest.digest()->to_string()
                                : (dest.tag().empty() ? "latest" : dest.tag());
    Digest root_digest = Digest::of(root.bytes);
    if (dest.digest() && *dest.digest() != root_digest) {
        throw bad_input(
            fmt::format("push {} to {}: the image's digest is {}, not the one in the reference",
                        source, dest.to_string(), root_digest.to_string()));
    }
    put_manifest(c, root.bytes, root.media_type, reference);
    std::vector<Digest> all;
    for (const auto& b : blobs) {
        all.push_back(b.digest);
    }
    locations.record(dest.registry_host(), c.repo, all);
    result.manifest_digest = root_digest;
    result.media_type = root.media_type;
    result.bytes_uploaded = c.bytes;
    return result;
}

}  // namespace envpack
