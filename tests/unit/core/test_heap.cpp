#include <catch2/catch.hpp>

#include "core/heap.h"

using envpack::thp_mode_is_madvise;
using envpack::tunables_with_huge_pages;

TEST_CASE("huge-page tunable is added to whatever GLIBC_TUNABLES holds") {
    CHECK(tunables_with_huge_pages(nullptr) == "glibc.malloc.hugetlb=1");
    CHECK(tunables_with_huge_pages("") == "glibc.malloc.hugetlb=1");
    CHECK(tunables_with_huge_pages("glibc.malloc.arena_max=2") ==
          "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
}

TEST_CASE("a caller's own hugetlb setting is left alone") {
    CHECK_FALSE(tunables_with_huge_pages("glibc.malloc.hugetlb=0"));
    CHECK_FALSE(tunables_with_huge_pages("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2"));
}

TEST_CASE("only the kernel's madvise THP mode asks for the re-exec") {
    CHECK(thp_mode_is_madvise("always [madvise] never\n"));
    CHECK_FALSE(thp_mode_is_madvise("[always] madvise never\n"));
    CHECK_FALSE(thp_mode_is_madvise("always madvise [never]\n"));
    CHECK_FALSE(thp_mode_is_madvise(""));
}
