#include "registry/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace envpack {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- BlobWriter -------------------------------------------------------------------------------

BlobWriter::BlobWriter(fs::path blobs_dir)
    : m_blobs_dir(std::move(blobs_dir)),
      m_file(std::make_unique<AtomicFile>(m_blobs_dir / "incoming", Durability::fsync, 0644)) {}

BlobWriter::~BlobWriter() = default;

void BlobWriter::write(const void* data, size_t size) {
    m_sha.update(data, size);
    m_size += size;
    m_file->write(data, size);
}

Digest BlobWriter::commit(const std::optional<Digest>& expected) {
    Digest d = m_sha.finish();
    if (expected && *expected != d) {
        throw protocol_error(
            fmt::format("blob digest mismatch: expected {}, got {} ({} bytes)",
                        expected->to_string(), d.to_string(), m_size),
            "the source sent different bytes than it announced; nothing was stored");
    }
    fs::path final_path = m_blobs_dir / d.hex();
    if (::access(final_path.c_str(), F_OK) == 0) {
        return d;  // already present (content-addressed): drop our copy
    }
    // AtomicFile renames to its target; point it at the digest-named path.
    if (::fsync(m_file->fd()) != 0) {
        throw_errno("fsync", m_file->temp_path().string(), errno);
    }
    if (::rename(m_file->temp_path().c_str(), final_path.c_str()) != 0) {
        throw_errno("rename blob to", final_path.string(), errno);
    }
    fsync_dir(m_blobs_dir);
    m_file.reset();  // the temp file is gone; its destructor's unlink is a harmless ENOENT
    return d;
}

// ---- Store ------------------------------------------------------------------------------------

namespace {

constexpr const char* k_layout = R"({"imageLayoutVersion":"1.0.0"})";

void verify_stream(const fs::path& path, const Digest& d) {
    Digest actual;
    try {
        actual = Digest::of_file(path);
    } catch (const Error& e) {
        throw Error(
            fmt::format("blob {} is missing from the store ({})", d.to_string(), e.what()),
            "the store is incomplete: re-import or re-pull the image, then run `envpack gc`");
    }
    if (actual != d) {
        throw Error(fmt::format("blob {} is corrupt: its content hashes to {}", d.to_string(),
                                actual.to_string()),
                    fmt::format("delete {} and re-import or re-pull the image", path.string()));
    }
}

}  // namespace

Store::Store(fs::path root) : m_root(std::move(root)) {
    std::error_code ec;
    if (fs::exists(m_root, ec) && !fs::is_directory(m_root, ec)) {
        throw bad_input(fmt::format("store `{}` is not a directory", m_root.string()),
                        "set ENVPACK_HOME to a directory envpack may own");
    }
    if (fs::exists(m_root / "oci-layout", ec)) {
        return;
    }
    // Initialise under the index lock: another process may be doing the same right now.
    make_dirs(m_root);
    FileLock lock(m_root / ".index.lock", LockMode::exclusive);
    if (fs::exists(m_root / "oci-layout", ec)) {
        return;
    }
    static const std::set<std::string> k_ours = {"blobs", "index.json", ".index.lock", ".gc.lock"};
    for (const auto& entry : fs::directory_iterator(m_root, ec)) {
        if (!k_ours.contains(entry.path().filename().string())) {
            throw bad_input(
                fmt::format(
                    "`{}` exists but is not an OCI image layout (no oci-layout file, and it "
                    "holds `{}`)",
                    m_root.string(), entry.path().filename().string()),
                "point ENVPACK_HOME elsewhere or remove that directory");
        }
    }
    make_dirs(m_root / "blobs" / "sha256");
    if (!fs::exists(m_root / "index.json", ec)) {
        write_index({});
    }
    // oci-layout last: its presence means the layout is complete.
    write_file_atomic(m_root / "oci-layout", k_layout);
}

fs::path Store::blob_path(const Digest& d) const {
    return m_root / "blobs" / "sha256" / d.hex();
}

bool Store::has_blob(const Digest& d) const {
    return ::access(blob_path(d).c_str(), F_OK) == 0;
}

Descriptor Store::put_blob(std::string_view data, std::string_view media_type) {
    Digest d = Digest::of(data);
    if (!has_blob(d)) {
        BlobWriter w = begin_blob();
        w.write(data);
        w.commit(d);
    }
    Descriptor desc;
    desc.media_type = std::string(media_type);
    desc.digest = d;
    desc.size = static_cast<std::int64_t>(data.size());
    return desc;
}

std::string Store::read_blob(const Digest& d) const {
    std::string data;
    try {
        data = read_file(blob_path(d));
    } catch (const Error& e) {
        throw Error(
            fmt::format("blob {} is missing from the store `{}`", d.to_string(), m_root.string()),
            "re-import or re-pull the image");
    }
    Digest actual = Digest::of(data);
    if (actual != d) {
        throw Error(
            fmt::format("blob {} is corrupt: its content hashes to {}", d.to_string(),
                        actual.to_string()),
            fmt::format("delete {} and re-import or re-pull the image", blob_path(d).string()));
    }
    return data;
}

void Store::verify_blob(const Digest& d) const {
    verify_stream(blob_path(d), d);
}

std::vector<StoredImage> Store::read_index() const {
    std::string text = read_file(m_root / "index.json");
    json j = json::parse(text, nullptr, false);
    std::string where = (m_root / "index.json").string();
    if (j.is_discarded() || !j.is_object()) {
        throw Error(fmt::format("{}: not a JSON object", where),
                    "the store index is damaged; restore it or remove the store");
    }
    std::vector<StoredImage> out;
    if (j.contains("manifests") && j["manifests"].is_array()) {
        for (const auto& m : j["manifests"]) {
            StoredImage img;
            img.manifest = Descriptor::from_json(m, where);
            auto it = img.manifest.annotations.find(annotation::k_ref_name);
            img.name = it == img.manifest.annotations.end() ? "" : it->second;
            out.push_back(std::move(img));
        }
    }
    return out;
}

void Store::write_index(const std::vector<StoredImage>& images) {
    json j = {
        {"schemaVersion", 2}, {"mediaType", media_type::k_oci_index}, {"manifests", json::array()}};
    for (const auto& img : images) {
        j["manifests"].push_back(img.manifest.to_json());
    }
    write_file_atomic(m_root / "index.json", j.dump(2) + "\n");
}

void Store::tag(std::string_view name, Descriptor manifest) {
    manifest.annotations[annotation::k_ref_name] = std::string(name);
    FileLock lock(m_root / ".index.lock", LockMode::exclusive);
    auto images = read_index();
    std::erase_if(images, [&](const StoredImage& i) { return i.name == name; });
    images.push_back({std::string(name), std::move(manifest)});
    std::sort(images.begin(), images.end(),
              [](const StoredImage& a, const StoredImage& b) { return a.name < b.name; });
    write_index(images);
}

std::optional<Descriptor> Store::resolve(std::string_view name) const {
    auto images = read_index();
    // "NAME@sha256:..." and a bare "sha256:..." are matched by digest alone; anything else by name.
    auto at = name.find('@');
    std::optional<Digest> by_digest =
        Digest::parse(at == std::string_view::npos ? name : name.substr(at + 1));
    for (const auto& img : images) {
        if (by_digest ? img.manifest.digest == *by_digest : img.name == name) {
            return img.manifest;
        }
    }
    return std::nullopt;
}

Descriptor Store::resolve_or_throw(std::string_view name) const {
    auto d = resolve(name);
    if (!d) {
        throw bad_input(
            fmt::format("image `{}` is not in the local store `{}`", name, m_root.string()),
            "run `envpack images` to list what is there, or `envpack pull` it");
    }
    return *d;
}

std::vector<StoredImage> Store::list() const {
    return read_index();
}

bool Store::untag(std::string_view name) {
    FileLock lock(m_root / ".index.lock", LockMode::exclusive);
    auto images = read_index();
    size_t before = images.size();
    std::erase_if(images, [&](const StoredImage& i) { return i.name == name; });
    if (images.size() == before) {
        return false;
    }
    write_index(images);
    return true;
}

Manifest Store::read_manifest(const Descriptor& d) const {
    return Manifest::parse(read_blob(d.digest), fmt::format("manifest {}", d.digest.to_string()));
}

ImageConfig Store::read_config(const Manifest& m) const {
    return ImageConfig::parse(read_blob(m.config.digest),
                              fmt::format("config {}", m.config.digest.to_string()));
}

FileLock Store::writer_lock() const {
    return FileLock(m_root / ".gc.lock", LockMode::shared);
}

GcResult Store::gc() {
    FileLock gc_lock(m_root / ".gc.lock", LockMode::exclusive);
    std::set<std::string> live;
    // Walk manifests and nested indexes; a damaged manifest keeps what it can reach unknown, so
    // gc refuses rather than deleting blobs another image may need.
    std::vector<Descriptor> todo;
    for (const auto& img : read_index()) {
        todo.push_back(img.manifest);
    }
    while (!todo.empty()) {
        Descriptor d = todo.back();
        todo.pop_back();
        if (!live.insert(d.digest.hex()).second) {
            continue;
        }
        if (!has_blob(d.digest)) {
            continue;
        }
        std::string bytes = read_blob(d.digest);
        json j = json::parse(bytes, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            continue;
        }
        std::string where = fmt::format("blob {}", d.digest.to_string());
        if (j.contains("manifests") && j["manifests"].is_array()) {
            for (const auto& m : j["manifests"]) {
                todo.push_back(Descriptor::from_json(m, where));
            }
        }
        if (j.contains("config") && j["config"].is_object()) {
            live.insert(Descriptor::from_json(j["config"], where).digest.hex());
        }
        if (j.contains("layers") && j["layers"].is_array()) {
            for (const auto& l : j["layers"]) {
                live.insert(Descriptor::from_json(l, where).digest.hex());
            }
        }
    }
    GcResult result;
    auto now = fs::file_time_type::clock::now();
    for (const auto& entry : fs::directory_iterator(m_root / "blobs" / "sha256")) {
        std::string name = entry.path().filename().string();
        std::error_code ec;
        bool temp = name.starts_with(".tmp-");
        if (temp) {
            // A temp file of a writer that died; live writers' temp files are young.
            if (now - fs::last_write_time(entry.path(), ec) < std::chrono::hours(1)) {
                continue;
            }
        } else if (live.contains(name)) {
            ++result.kept_blobs;
            continue;
        }
        auto size = entry.file_size(ec);
        if (fs::remove(entry.path(), ec)) {
            ++result.removed_blobs;
            result.removed_bytes += ec ? 0 : size;
        }
    }
    return result;
}

}  // namespace envpack
