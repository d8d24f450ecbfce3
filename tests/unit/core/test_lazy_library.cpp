#include <catch2/catch.hpp>

#include <zlib.h>

#include "core/detail/lazy_library.h"
#include "core/error.h"

using namespace envpack;

TEST_CASE("lazy_library: functions of a library opened at run time; what is missing is named") {
    void* z = detail::open_library("libz.so.1", "install zlib");
    decltype(&::zlibVersion) version = nullptr;
    detail::load_function(z, "libz.so.1", version, "zlibVersion");
    REQUIRE(version != nullptr);
    CHECK(std::string(version()) == zlibVersion());
    CHECK_THROWS_WITH(detail::load_function(z, "libz.so.1", version, "no_such_function"),
                      Catch::Contains("libz.so.1") && Catch::Contains("no_such_function"));
    try {
        detail::open_library("libenvpack-missing.so.7", "install the missing library");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("libenvpack-missing.so.7"));
        CHECK_THAT(e.hint(), Catch::Contains("install the missing library"));
    }
}
