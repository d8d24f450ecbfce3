// The sha256 of a file someone else owns (a wheel in a --find-links directory), remembered by the
// file's stat fingerprint so a file left alone is read once, not on every lock and build.
//
// The fingerprint is the absolute path, device, inode, size, mtime and ctime (ns): any write to
// the file changes its ctime, which no user-space call can set back, so a changed file is read
// again (the rule git's index and ccache's direct mode rely on). The memo is stored only when the
// file's fingerprint is the same after reading as before, under `memo_dir/<fingerprint hash>`
// (temp file + rename; a memo that cannot be written or read only costs a read).
#pragma once

#include <filesystem>

#include "core/digest.h"

namespace envpack {

// Throws Error naming the file when it cannot be read. An empty `memo_dir` reads every time.
Digest remembered_file_digest(const std::filesystem::path& file,
                              const std::filesystem::path& memo_dir);

}  // namespace envpack
