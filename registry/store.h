// The local image store: an OCI image layout directory ($ENVPACK_HOME/store).
//
//   store/oci-layout             {"imageLayoutVersion": "1.0.0"}
//   store/index.json             manifests, each annotated with org.opencontainers.image.ref.name
//   store/blobs/sha256/<hex>     content-addressed blobs
//
// Concurrency: blobs are written to temp files and renamed into place (content addressing makes a
// second writer of the same blob harmless); index.json is rewritten atomically under an exclusive
// lock (`.index.lock`). A writer that adds blobs and then tags them holds a shared `.gc.lock`
// (see `writer_lock`) for the whole operation; gc takes it exclusively, so it never deletes the
// blobs of an import in progress. A process killed halfway leaves at most `.tmp-*` files, which gc
// removes when they are older than an hour.
//
// Integrity: every read verifies the blob's sha256; a mismatch throws an Error that names the blob
// and never returns the bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/fs.h"
#include "registry/image.h"

namespace envpack {

// Streams one blob into the store: write(), then commit() verifies (if an expected digest is given)
// and renames into place (a digest mismatch throws kind protocol: the source sent other bytes).
// Destroyed without commit, nothing is left behind.
class BlobWriter : public Sink {
  public:
    BlobWriter(std::filesystem::path blobs_dir);
    ~BlobWriter() override;
    void write(const void* data, size_t size) override;
    using Sink::write;
    // Returns the digest of what was written. Throws if `expected` is given and differs.
    Digest commit(const std::optional<Digest>& expected = std::nullopt);
    std::uint64_t size() const { return m_size; }

  private:
    std::filesystem::path m_blobs_dir;
    std::unique_ptr<AtomicFile> m_file;
    Sha256 m_sha;
    std::uint64_t m_size = 0;
};

struct GcResult {
    std::uint64_t removed_blobs = 0;
    std::uint64_t removed_bytes = 0;
    std::uint64_t kept_blobs = 0;
};

struct StoredImage {
    std::string name;     // the ref.name annotation
    Descriptor manifest;  // the index entry
};

class Store {
  public:
    // Opens the layout at `root`, creating it when missing. Throws Error if `root` exists but is
    // not an OCI layout (no oci-layout file while other files are present).
    explicit Store(std::filesystem::path root);

    const std::filesystem::path& root() const { return m_root; }
    std::filesystem::path blob_path(const Digest& d) const;
    bool has_blob(const Digest& d) const;

    BlobWriter begin_blob() const { return BlobWriter(m_root / "blobs" / "sha256"); }
    // Writes a small blob from memory. Returns its descriptor (with `media_type`).
    Descriptor put_blob(std::string_view data, std::string_view media_type);
    // Reads and verifies a blob. Throws Error (corrupt or missing, naming the digest).
    std::string read_blob(const Digest& d) const;
    // Verifies a blob on disk without loading it whole.
    void verify_blob(const Digest& d) const;

    // Records `manifest` under `name` in index.json (replacing an entry of the same name).
    void tag(std::string_view name, Descriptor manifest);
    // The manifest descriptor recorded for `name`, if any. `name` may also be "sha256:..." or
    // "NAME@sha256:..." (matched by digest).
    std::optional<Descriptor> resolve(std::string_view name) const;
    // Like resolve, but throws a bad-input Error naming the reference and the store.
    Descriptor resolve_or_throw(std::string_view name) const;
    std::vector<StoredImage> list() const;
    // Removes the entry; returns false if there was none.
    bool untag(std::string_view name);

    // Reads (and verifies) the manifest and its config.
    Manifest read_manifest(const Descriptor& d) const;
    ImageConfig read_config(const Manifest& m) const;

    // Held (shared) by every operation that adds blobs and then tags them; gc holds it exclusive.
    FileLock writer_lock() const;
    // Deletes blobs unreachable from index.json (manifests, configs, layers, nested indexes) and
    // stale temp files.
    GcResult gc();

  private:
    std::vector<StoredImage> read_index() const;
    void write_index(const std::vector<StoredImage>& images);
    std::filesystem::path m_root;
};

}  // namespace envpack
