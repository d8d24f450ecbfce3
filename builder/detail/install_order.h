// The order in which independent wheels are handed to a thread pool: largest first (the "longest
// processing time first" rule). Submitted in resolution order, a big wheel that comes last is the
// whole tail of an install by itself while the other threads idle.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace envpack::wheel_install::detail {

// Indices of `urls`, local files (`file://`, sized with one stat each) largest first; files whose
// size is unknown (remote, missing) keep their order after them. Stable among equal sizes.
std::vector<std::size_t> largest_first(const std::vector<std::string>& urls);

}  // namespace envpack::wheel_install::detail
