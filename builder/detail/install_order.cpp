#include "builder/detail/install_order.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "resolver/pip_index.h"

namespace envpack::wheel_install::detail {

std::vector<std::size_t> largest_first(const std::vector<std::string>& urls) {
    constexpr std::string_view k_file = "file://";
    std::vector<std::uint64_t> size(urls.size(), 0);
    for (std::size_t i = 0; i < urls.size(); ++i) {
        if (!urls[i].starts_with(k_file)) {
            continue;
        }
        const std::string path = pip_index::percent_decode(urls[i].substr(k_file.size()));
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0) {
            size[i] = static_cast<std::uint64_t>(st.st_size);
        }
    }
    return largest_first(size);
}

std::vector<std::size_t> largest_first(const std::vector<std::uint64_t>& sizes) {
    std::vector<std::size_t> order(sizes.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return sizes[a] > sizes[b]; });
    return order;
}

}  // namespace envpack::wheel_install::detail
