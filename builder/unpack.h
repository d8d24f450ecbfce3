// Unpacks an image from the local store into a directory (a container's root filesystem), applying
// layers in order and honouring OCI whiteouts (`.wh.NAME` deletes NAME from lower layers,
// `.wh..wh..opq` hides a directory's lower-layer contents). Every layer is verified against its
// digest while it is read. Entries with absolute paths, `..`, or a path that would pass through a
// symbolic link are refused (nothing is ever written outside `dest`).
#pragma once

#include <filesystem>

#include "core/log.h"
#include "registry/store.h"

namespace envpack {

struct UnpackStats {
    std::uint64_t layers = 0;
    std::uint64_t entries = 0;
    std::uint64_t whiteouts = 0;
};

// `dest` must not exist or be empty.
UnpackStats unpack_image(const Store& store, const Manifest& manifest,
                         const std::filesystem::path& dest, Log& log);

// Applies one layer tar (any compression) onto `dest`.
UnpackStats apply_layer(const std::filesystem::path& layer_file, const std::filesystem::path& dest,
                        Log& log);

}  // namespace envpack
