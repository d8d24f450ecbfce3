#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "builder/detail/install_order.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/thread_pool.h"

using namespace envpack;

TEST_CASE("install_order: local wheels largest first, unknown sizes after them in their order") {
    TempDir dir("install-order-");
    auto wheel = [&](const std::string& name, std::size_t size) {
        write_file_atomic(dir.path() / name, std::string(size, 'x'), Durability::none);
        return "file://" + (dir.path() / name).string();
    };
    const std::vector<std::string> urls = {
        "https://example.org/remote-1.0-py3-none-any.whl",  // 0: size unknown
        wheel("small-1.0-py3-none-any.whl", 10),            // 1
        wheel("big-1.0-py3-none-any.whl", 5000),            // 2
        "file://" + (dir.path() / "missing.whl").string(),  // 3: size unknown
        wheel("mid-1.0-py3-none-any.whl", 700),             // 4
        wheel("with space-1.0-py3-none-any.whl", 900),      // 5: written percent-encoded below
    };
    std::vector<std::string> encoded = urls;
    encoded[5] = "file://" + (dir.path() / "with%20space-1.0-py3-none-any.whl").string();
    CHECK(wheel_install::detail::largest_first(encoded) ==
          std::vector<std::size_t>{2, 5, 4, 1, 0, 3});
    CHECK(wheel_install::detail::largest_first(std::vector<std::string>{}).empty());
    // By sizes (layers to write): largest first, equal sizes in their order.
    CHECK(wheel_install::detail::largest_first(std::vector<std::uint64_t>{3, 9, 0, 9, 5}) ==
          std::vector<std::size_t>{1, 3, 4, 0, 2});
}

TEST_CASE("install_order: run_largest_first returns results in input order, the first failure") {
    ThreadPool pool(2);
    const std::vector<std::string> urls = {"https://a", "https://b", "https://c"};
    CHECK(wheel_install::detail::run_largest_first(pool, urls, [&](std::size_t i) {
              return urls[i] + "!";
          }) == std::vector<std::string>{"https://a!", "https://b!", "https://c!"});
    ThreadPool one(1);  // in order: b throws, c is skipped
    CHECK_THROWS_WITH(wheel_install::detail::run_largest_first(one, urls,
                                                               [&](std::size_t i) -> int {
                                                                   if (i > 0) {
                                                                       throw Error(urls[i]);
                                                                   }
                                                                   return 0;
                                                               }),
                      "https://b");
}
