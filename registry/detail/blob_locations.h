// Private to the registry client: where blobs were last seen on each registry, so a push to a
// new repository can mount them instead of uploading (skopeo keeps a similar blob-info cache).
//
// The file ($ENVPACK_HOME/registry-blobs.json by default) maps host -> digest -> repository. It
// is a hint only: a wrong entry costs one mount request that falls back to an upload. Updates are
// read-modify-write under a lock file and written atomically; a host's map is dropped when it
// grows past k_max_entries.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/digest.h"

namespace envpack::detail {

class BlobLocations {
  public:
    static constexpr size_t k_max_entries = 50000;
    // An empty path disables the cache (reads give nothing, writes do nothing).
    explicit BlobLocations(std::filesystem::path file) : m_file(std::move(file)) {}

    std::map<Digest, std::string> for_host(const std::string& host) const;
    // Records that `blobs` are in `repository` on `host`. Failures are ignored (it is a hint).
    void record(const std::string& host, const std::string& repository,
                const std::vector<Digest>& blobs) const;

  private:
    std::filesystem::path m_file;
};

}  // namespace envpack::detail
