// Reads the ignore file `name` in the directory `dirfd` for the snapshot walker. Returns null
// when it vanished; throws bad_input for a symbolic link, a non-regular file or one over 100 MiB,
// and Error naming `shown` when it cannot be read.
#pragma once

#include <memory>
#include <string>

#include "builder/ignore.h"

namespace envpack::detail {

std::shared_ptr<const IgnoreFile> read_ignore_file(int dirfd, const char* name,
                                                   const std::string& shown);

}  // namespace envpack::detail
