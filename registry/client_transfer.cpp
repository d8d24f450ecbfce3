// Push and pull (RegistryClient::push / pull): blob transfers, manifests, indexes.
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/thread_pool.h"
#include "registry/client.h"
#include "registry/detail/client_impl.h"

namespace envpack {

using nlohmann::json;

namespace {

// A failure worth starting a blob transfer over for (5xx, dropped connection, wrong bytes).
class RetryableError : public Error {
public:
    using Error::Error;
};

enum class BlobOutcome { skipped, mounted, uploaded };

std::string with_query(const std::string& url, std::string_view query) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + std::string(query);
}

bool is_index(std::string_view media_type, const json& j) {
    return media_type == media_type::k_oci_index || media_type == media_type::k_docker_manifest_list ||
           (j.is_object() && j.contains("manifests") && !j.contains("layers"));
}

// Runs fn() with up to `retries` restarts on RetryableError, sleeping with backoff between.
template <class F>
auto with_retries(const RegistryOptions& options, Log& log, std::string_view what, F&& fn) {
    for (int attempt = 0;; ++attempt) {
        try {
            return fn();
        } catch (const RetryableError& e) {
            if (attempt >= options.retries) {
                throw Error(fmt::format("{}: {} (gave up after {} attempts)", what, e.what(), attempt + 1),
                            e.hint());
            }
            auto wait = options.backoff * (1LL << std::min(attempt, 6));
            log.warn(fmt::format("{}: {}; starting over in {:.1f} s ({}/{})", what, e.what(),
                                 wait.count() / 1000.0, attempt + 1, options.retries));
            std::this_thread::sleep_for(wait);
        }
    }
}

// Runs jobs on a pool of `parallel` threads; waits for all; rethrows the first failure.
void run_parallel(unsigned parallel, std::vector<std::function<void()>> jobs) {
    if (jobs.empty()) {
        return;
    }
    ThreadPool pool(std::max(1u, std::min<unsigned>(parallel, static_cast<unsigned>(jobs.size()))));
    std::vector<std::future<void>> futures;
    futures.reserve(jobs.size());
    for (auto& job : jobs) {
        futures.push_back(pool.submit(std::move(job)));
    }
    std::exception_ptr first;
    for (auto& f : futures) {
        try {
            f.get();
        } catch (...) {
            if (!first) {
                first = std::current_exception();
            }
        }
    }
    if (first) {
        std::rethrow_exception(first);
    }
}

std::string status_error(std::string_view operation, const HttpRequest& req, const HttpResponse& r) {
    std::string detail = detail::describe_error_body(r);
    return fmt::format("{}: {} {} answered HTTP {}{}{}", operation, req.method, redact(req.url), r.status,
                       detail.empty() ? "" : ": ", detail);
}

bool transient_status(long status) {
    return status == 408 || status == 429 || status >= 500 || status == 400;
}

}  // namespace

// ---- push -------------------------------------------------------------------------------------

namespace {

struct PushContext {
    RegistryClient::Impl& impl;
    detail::Endpoint& ep;
    Store& store;
    std::string repo;
    std::string scopes;
    std::vector<std::string> mount_from;          // tried for every blob
    std::map<Digest, std::string> known_location; // blob -> a repository on this registry
    std::set<std::string> scopes_extra;            // repositories we may mount from (pull scope)
    std::atomic<std::uint64_t> bytes{0};
};

HttpResponse session_send(PushContext& c, HttpRequest req, std::string_view operation) {
    req.retries = 0;  // an upload session is restarted as a whole instead
    try {
        return c.impl.send(c.ep, std::move(req), c.scopes, operation);
    } catch (const RetryableError&) {
        throw;
    } catch (const Error& e) {
        std::string_view msg = e.what();
        if (msg.find("refused the credentials") != std::string_view::npos ||
            msg.find("requires authentication") != std::string_view::npos ||
            msg.find("denied access") != std::string_view::npos) {
            throw;
        }
        throw RetryableError(e.what(), e.hint());
    }
}

std::string upload_location(PushContext& c, const HttpRequest& req, const HttpResponse& r,
                            std::string_view operation) {
    auto loc = r.header("location");
    if (!loc || loc->empty()) {
        throw RetryableError(fmt::format("{}: {} {} answered HTTP {} without a Location header",
                                         operation, req.method, req.url, r.status));
    }
    return resolve_url(req.url, *loc);
}

BlobOutcome push_blob(PushContext& c, const Descriptor& blob) {
    std::string operation = fmt::format("push blob {} to {}", blob.digest.to_string(), c.repo);
    std::string blob_url = fmt::format("{}/v2/{}/blobs/{}", c.ep.base, c.repo, blob.digest.to_string());
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
    return with_retries(c.impl.options, c.impl.log, operation, [&]() -> BlobOutcome {
        std::string location;
        std::vector<std::string> sources;
        if (auto it = c.known_location.find(blob.digest); it != c.known_location.end()) {
            sources.push_back(it->second);
        }
        for (const auto& m : c.mount_from) {
            if (std::find(sources.begin(), sources.end(), m) == sources.end() && sources.size() < 3) {
                sources.push_back(m);
            }
        }
        for (const auto& from : sources) {
            HttpRequest mount;
            mount.method = "POST";
            mount.url = fmt::format("{}/v2/{}/blobs/uploads/?mount={}&from={}", c.ep.base, c.repo,
                                    blob.digest.to_string(), from);
            HttpResponse r = session_send(c, mount, operation);
            if (r.status == 201) {
                return BlobOutcome::mounted;
            }
            if (r.status == 202) {
                location = upload_location(c, mount, r, operation);  // fall back to uploading
                break;
            }
            if (transient_status(r.status)) {
                throw RetryableError(status_error(operation, mount, r));
            }
        }
        if (location.empty()) {
            HttpRequest start;
            start.method = "POST";
            start.url = fmt::format("{}/v2/{}/blobs/uploads/", c.ep.base, c.repo);
            HttpResponse r = session_send(c, start, operation);
            if (r.status != 202) {
                if (transient_status(r.status)) {
                    throw RetryableError(status_error(operation, start, r));
                }
                throw Error(status_error(operation, start, r));
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
                patch.headers.emplace_back("Content-Range", fmt::format("{}-{}", offset, offset + length - 1));
                HttpResponse r = session_send(c, patch, operation);
                if (r.status != 202 && r.status != 204) {
                    if (transient_status(r.status) || r.status == 416) {
                        throw RetryableError(status_error(operation, patch, r));
                    }
                    throw Error(status_error(operation, patch, r));
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
            if (transient_status(r.status)) {
                throw RetryableError(status_error(operation, put, r));
            }
            throw Error(status_error(operation, put, r));
        }
        if (auto d = r.header("docker-content-digest"); d && *d != blob.digest.to_string()) {
            throw RetryableError(fmt::format("{}: the registry stored {} instead", operation, *d));
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
    with_retries(c.impl.options, c.impl.log, operation, [&] {
        HttpRequest put;
        put.method = "PUT";
        put.url = fmt::format("{}/v2/{}/manifests/{}", c.ep.base, c.repo, reference);
        put.body = bytes;
        put.headers.emplace_back("Content-Type", media_type);
        HttpResponse r = c.impl.send(c.ep, put, c.scopes, operation);
        if (r.status != 201 && r.status != 200 && r.status != 202) {
            if (transient_status(r.status) && r.status != 400) {
                throw RetryableError(status_error(operation, put, r));
            }
            throw Error(status_error(operation, put, r),
                        r.status == 400 ? "the registry rejected the manifest (a blob it names may be "
                                          "missing, or the media type is not supported)"
                                        : std::string());
        }
        if (auto d = r.header("docker-content-digest"); d && *d != expected.to_string()) {
            throw Error(fmt::format("{}: the registry recorded digest {} for manifest {}", operation, *d,
                                    expected.to_string()));
        }
    });
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
    PushContext c{*m_impl, ep, store, dest.remote_repository(), {}, {}};
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
                throw Error(fmt::format("push {}: manifest {} of the index is not in the local store",
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
    std::string reference = dest.tag().empty() && dest.digest() ? dest.digest()->to_string()
                                                                : (dest.tag().empty() ? "latest" : dest.tag());
    Digest root_digest = Digest::of(root.bytes);
    if (dest.digest() && *dest.digest() != root_digest) {
        throw bad_input(fmt::format("push {} to {}: the image's digest is {}, not the one in the reference",
                                    source, dest.to_string(), root_digest.to_string()));
    }
    put_manifest(c, root.bytes, root.media_type, reference);
    result.manifest_digest = root_digest;
    result.media_type = root.media_type;
    result.bytes_uploaded = c.bytes;
    return result;
}

// ---- pull -------------------------------------------------------------------------------------

namespace {

struct FetchedManifest {
    std::string bytes;
    std::string media_type;
    Digest digest;
    json doc;
};

FetchedManifest fetch_manifest(RegistryClient::Impl& impl, detail::Endpoint& ep, const std::string& repo,
                               const std::string& scopes, const std::string& reference,
                               const std::optional<Digest>& expected, std::string_view ref_text) {
    std::string operation = fmt::format("pull manifest {}", ref_text);
    return with_retries(impl.options, impl.log, operation, [&]() -> FetchedManifest {
        HttpRequest get;
        get.url = fmt::format("{}/v2/{}/manifests/{}", ep.base, repo, reference);
        get.headers.emplace_back("Accept", detail::k_manifest_accept);
        HttpResponse r = impl.send(ep, get, scopes, operation);
        if (r.status == 404) {
            throw Error(fmt::format("{}: not found in registry {} ({})", operation, ep.host,
                                    detail::describe_error_body(r)),
                        "check the repository name and tag (`envpack pull HOST/NAME:TAG`)");
        }
        if (r.status != 200) {
            if (transient_status(r.status)) {
                throw RetryableError(status_error(operation, get, r));
            }
            throw Error(status_error(operation, get, r));
        }
        if (detail::is_html(r)) {
            throw Error(fmt::format("{}: {} answered with an HTML page instead of a manifest", operation,
                                    get.url),
                        "check the host and port: this looks like a web server or a login portal");
        }
        FetchedManifest m;
        m.bytes = std::move(r.body);
        m.doc = json::parse(m.bytes, nullptr, false);
        if (!m.doc.is_object()) {
            throw Error(fmt::format("{}: the registry answered with something that is not JSON ({})",
                                    operation, r.header("content-type").value_or("no content type")));
        }
        m.digest = Digest::of(m.bytes);
        if (expected && *expected != m.digest) {
            throw RetryableError(fmt::format("{}: the manifest's bytes hash to {}, not {}", operation,
                                             m.digest.to_string(), expected->to_string()));
        }
        if (auto h = r.header("docker-content-digest"); h && !expected && *h != m.digest.to_string()) {
            throw RetryableError(fmt::format("{}: the manifest's bytes hash to {}, the registry says {}",
                                             operation, m.digest.to_string(), *h));
        }
        m.media_type = m.doc.value("mediaType", std::string());
        if (m.media_type.empty()) {
            std::string ct = r.header("content-type").value_or("");
            m.media_type = ct.substr(0, ct.find(';'));
        }
        if (m.media_type.empty() || m.media_type == "application/json") {
            m.media_type = is_index("", m.doc) ? media_type::k_oci_index : media_type::k_oci_manifest;
        }
        return m;
    });
}

void pull_blob(RegistryClient::Impl& impl, detail::Endpoint& ep, Store& store, const std::string& repo,
               const std::string& scopes, const Descriptor& blob, std::atomic<std::uint64_t>& bytes) {
    std::string operation = fmt::format("pull blob {} from {}", blob.digest.to_string(), repo);
    with_retries(impl.options, impl.log, operation, [&] {
        BlobWriter writer = store.begin_blob();
        HttpRequest get;
        get.url = fmt::format("{}/v2/{}/blobs/{}", ep.base, repo, blob.digest.to_string());
        get.response_sink = &writer;
        HttpResponse r;
        try {
            r = impl.send(ep, get, scopes, operation);
        } catch (const Error& e) {
            std::string_view msg = e.what();
            if (msg.find("resume download") != std::string_view::npos) {
                throw RetryableError(e.what(), e.hint());
            }
            throw;
        }
        if (r.status != 200) {
            if (transient_status(r.status)) {
                throw RetryableError(status_error(operation, get, r));
            }
            throw Error(status_error(operation, get, r));
        }
        if (writer.size() != static_cast<std::uint64_t>(blob.size)) {
            throw RetryableError(fmt::format("{}: got {} bytes, the manifest says {}", operation,
                                             writer.size(), blob.size));
        }
        try {
            writer.commit(blob.digest);
        } catch (const Error& e) {
            throw RetryableError(e.what(), e.hint());
        }
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
    FetchedManifest top = fetch_manifest(*m_impl, ep, repo, scopes, ref.remote_reference(), ref.digest(),
                                         ref.to_string());
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
            throw bad_input(fmt::format("pull {}: the image has no {} manifest (it has: {})", ref.to_string(),
                                        m_options.platform.to_string(), available),
                            "choose one with --platform OS/ARCH");
        }
        image = fetch_manifest(*m_impl, ep, repo, scopes, picked->digest.to_string(), picked->digest,
                               ref.to_string());
        if (is_index(image.media_type, image.doc)) {
            throw Error(fmt::format("pull {}: nested indexes are not supported", ref.to_string()));
        }
    }
    Manifest manifest = Manifest::parse(image.bytes, fmt::format("manifest of {}", ref.to_string()));
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
    result.stored_name = ref.store_name();
    store.tag(result.stored_name, d);
    result.manifest_digest = image.digest;
    result.media_type = image.media_type;
    result.bytes_downloaded = bytes;
    return result;
}

}  // namespace envpack
