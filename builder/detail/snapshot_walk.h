// The parallel directory walk behind walk_snapshot(): openat/fdopendir/fstatat on directory
// handles, excluded directories never opened, subdirectories spread over a thread pool, and the
// result put back in bytewise path order.
#pragma once

#include <filesystem>

#include "builder/snapshot.h"

namespace envpack::detail {

SnapshotListing walk_tree(const std::filesystem::path& root, Log& log, unsigned threads,
                          WalkDetail detail);

}  // namespace envpack::detail
