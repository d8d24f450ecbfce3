// The parallel directory walk behind walk_snapshot(): openat/fdopendir/fstatat on directory
// handles, excluded directories never opened, subdirectories spread over a thread pool, and the
// result put back in bytewise path order.
#pragma once

#include <filesystem>
#include <functional>
#include <string_view>

#include "builder/snapshot.h"

namespace envpack::detail {

SnapshotListing walk_tree(const std::filesystem::path& root, Log& log, unsigned threads,
                          WalkDetail detail);

// The same walk (names only), streaming the paths of files and symlinks in bytewise order.
void walk_paths(const std::filesystem::path& root, Log& log, unsigned threads,
                const std::function<void(std::string_view)>& emit);

}  // namespace envpack::detail
