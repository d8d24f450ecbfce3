// RegistryClient::pull: manifest (index -> platform), verified blob downloads, then the tag.
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

using detail::is_index;
using detail::RestartOn;
using detail::run_parallel;
using detail::status_error;
using detail::with_restarts;
using nlohmann::json;

namespace {

struct FetchedManifest {
    std::string bytes;
    std::string media_type;
    Digest digest;
    json doc;
};

FetchedManifest fetch_manifest(RegistryClient::Impl& impl, detail::Endpoint& ep,
                               const std::string& repo, const std::string& scopes,
                               const std::string& reference, const std::optional<Digest>& expected,
                               std::string_view ref_text) {
    std::string operation = fmt::format("pull manifest {}", ref_text);
    // A manifest whose bytes are wrong is fetched again; HttpClient retries transient answers.
    return with_restarts(
        impl.options, impl.log, operation, RestartOn::wrong_bytes, [&]() -> FetchedManifest {
            HttpRequest get;
            get.url = fmt::format("{}/v2/{}/manifests/{}", ep.base, repo, reference);
            get.headers.emplace_back("Accept", detail::k_manifest_accept);
            HttpResponse r = impl.send(ep, get, scopes, operation);
            if (r.status == 404) {
                throw not_found_error(
                    fmt::format("{}: not found in registry {} ({})", operation, ep.host,
                                detail::describe_error_body(r)),
                    "check the repository name and tag (`envpack pull HOST/NAME:TAG`)")
                    .with_http_status(404);
            }
            if (r.status != 200) {
                throw status_error(operation, get, r);
            }
            if (detail::is_html(r)) {
                // Not wrong bytes of a manifest but no registry at all: fetching again cannot help.
                throw Error(
                    fmt::format("{}: {} answered with an HTML page instead of a manifest",
                                operation, get.url),
                    "check the host and port: this looks like a web server or a login portal");
            }
            FetchedManifest m;
            m.bytes = std::move(r.body);
            m.doc = json::parse(m.bytes, nullptr, false);
            if (!m.doc.is_object()) {
                throw Error(
                    fmt::format("{}: the registry answered with something that is not JSON ({})",
                                operation, r.header("content-type").value_or("no content type")));
            }
            m.digest = Digest::of(m.bytes);
            if (expected && *expected != m.digest) {
                throw protocol_error(fmt::format("{}: the manifest's bytes hash to {}, not {}",
                                                 operation, m.digest.to_string(),
                                                 expected->to_string()));
            }
            if (auto h = r.header("docker-content-digest");
                h && !expected && *h != m.digest.to_string()) {
                throw protocol_error(
                    fmt::format("{}: the manifest's bytes hash to {}, the registry says {}",
                                operation, m.digest.to_string(), *h));
            }
            m.media_type = m.doc.value("mediaType", std::string());
            if (m.media_type.empty()) {
                std::string ct = r.header("content-type").value_or("");
                m.media_type = ct.substr(0, ct.find(';'));
            }
            if (m.media_type.empty() || m.media_type == "application/json") {
                m.media_type =
                    is_index("", m.doc) ? media_type::k_oci_index : media_type::k_oci_manifest;
            }
            return m;
        });
}

void pull_blob(RegistryClient::Impl& impl, detail::Endpoint& ep, Store& store,
               const std::string& repo, const std::string& scopes, const Descriptor& blob,
               std::atomic<std::uint64_t>& bytes) {
    std::string operation = fmt::format("pull blob {} from {}", blob.digest.to_string(), repo);
    // Wrong bytes (size, digest, a resume at the wrong offset: kind protocol) are fetched again;
    // a dropped body is resumed and a 5xx retried by HttpClient, never here.
    with_restarts(impl.options, impl.log, operation, RestartOn::wrong_bytes, [&] {
        BlobWriter writer = store.begin_blob();
        HttpRequest get;
        get.url = fmt::format("{}/v2/{}/blobs/{}", ep.base, repo, blob.digest.to_string());
        get.response_sink = &writer;
        HttpResponse r = impl.send(ep, get, scopes, operation);
        if (r.status != 200) {
            throw status_error(operation, get, r);
        }
        if (writer.size() != static_cast<std::uint64_t>(blob.size)) {
            throw protocol_error(fmt::format("{}: got {} bytes, the manifest says {}", operation,
                                             writer.size(), blob.size));
        }
        writer.commit(blob.digest);  // a digest mismatch throws kind protocol: fetched again
        bytes += writer.size();
    });
}

void store_bytes(Store& store, const std::string& bytes, const Digest& digest) {
    if (store.has_blob(digest)) {
        return;
    }
    BlobWriter w = store.begin_blob();
    w.write(bytes);
    w.commit(digest);
}

}  // namespace

PullResult RegistryClient::pull(Store& store, const ImageRef& ref) {
    auto& ep = m_impl->endpoint(ref.registry_host());
    std::string repo = ref.remote_repository();
    std::string scopes = repository_scope(repo, "pull");
    FetchedManifest top = fetch_manifest(*m_impl, ep, repo, scopes, ref.remote_reference(),
                                         ref.digest(), ref.to_string());
    PullResult result;
    FetchedManifest image = top;
    if (is_index(top.media_type, top.doc)) {
        result.index_digest = top.digest;
        auto picked = pick_platform(top.doc, m_options.platform);
        if (!picked) {
            std::string available;
            for (const auto& m : top.doc["manifests"]) {
                if (m.contains("platform") && m["platform"].is_object()) {
                    available += fmt::format("{}{}/{}", available.empty() ? "" : ", ",
                                             m["platform"].value("os", "?"),
                                             m["platform"].value("architecture", "?"));
                }
            }
            throw bad_input(fmt::format("pull {}: the image has no {} manifest (it has: {})",
                                        ref.to_string(), m_options.platform.to_string(), available),
                            "choose one with --platform OS/ARCH");
        }
        image = fetch_manifest(*m_impl, ep, repo, scopes, picked->digest.to_string(),
                               picked->digest, ref.to_string());
        if (is_index(image.media_type, image.doc)) {
            throw Error(fmt::format("pull {}: nested indexes are not supported", ref.to_string()));
        }
    }
    Manifest manifest =
        Manifest::parse(image.bytes, fmt::format("manifest of {}", ref.to_string()));
    FileLock writer_lock = store.writer_lock();
    std::vector<Descriptor> blobs{manifest.config};
    blobs.insert(blobs.end(), manifest.layers.begin(), manifest.layers.end());
    std::set<Digest> seen;
    std::mutex result_mutex;
    std::atomic<std::uint64_t> bytes{0};
    std::vector<std::function<void()>> jobs;
    for (const auto& blob : blobs) {
        if (!seen.insert(blob.digest).second) {
            continue;
        }
        if (store.has_blob(blob.digest)) {
            result.present.push_back(blob.digest);
            continue;
        }
        jobs.emplace_back([&, blob] {
            pull_blob(*m_impl, ep, store, repo, scopes, blob, bytes);
            std::lock_guard lock(result_mutex);
            result.downloaded.push_back(blob.digest);
        });
    }
    run_parallel(m_options.parallel, std::move(jobs));
    // Every blob is in: now the manifest, then the name.
    store_bytes(store, image.bytes, image.digest);
    Descriptor d;
    d.media_type = image.media_type;
    d.digest = image.digest;
    d.size = static_cast<std::int64_t>(image.bytes.size());
    detail::BlobLocations(m_options.blob_location_cache)
        .record(ref.registry_host(), repo, std::vector<Digest>(seen.begin(), seen.end()));
    result.stored_name = ref.store_name();
    store.tag(result.stored_name, d);
    result.manifest_digest = image.digest;
    result.media_type = image.media_type;
    result.bytes_downloaded = bytes;
    return result;
}

}  // namespace envpack
