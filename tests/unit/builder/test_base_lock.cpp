#include <catch2/catch.hpp>

#include "builder/base_lock.h"
#include "core/error.h"

using namespace envpack;

TEST_CASE("dpkg status: installed packages only, sorted") {
    auto pk = parse_dpkg_status(
        "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n"
        "Architecture: amd64\nDescription: x\n more\n\n"
        "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n"
        "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n");
    REQUIRE(pk.size() == 2);
    CHECK(pk[0] == InstalledPackage{"bash", "5.2.15-2+b2", "amd64"});
    CHECK(pk[1].name == "zlib1g");
    CHECK(deb_filename(pk[1]) == "zlib1g_1%3a1.2.13.dfsg-1_amd64.deb");
    CHECK(deb_filename(pk[0]) == "bash_5.2.15-2+b2_amd64.deb");
}

TEST_CASE("extended_states: parsed and rendered in a fixed order") {
    auto a = parse_extended_states(
        "Package: b1\nArchitecture: amd64\nAuto-Installed: 1\n\nPackage: m1\nArchitecture: "
        "amd64\nAuto-Installed: 0\n\nPackage: a1\nArchitecture: all\nAuto-Installed: 1\n");
    CHECK(a == std::set<std::string>{"a1", "b1"});
    BaseLock l;
    l.packages = {{"a1", "1", "all", "a1_1_all.deb", 1, "00", true},
                  {"b1", "1", "amd64", "b1_1_amd64.deb", 1, "00", true},
                  {"m1", "1", "amd64", "m1_1_amd64.deb", 1, "00", false}};
    CHECK(render_extended_states(l) ==
          "Package: a1\nArchitecture: all\nAuto-Installed: 1\n\n"
          "Package: b1\nArchitecture: amd64\nAuto-Installed: 1\n\n");
    CHECK(parse_extended_states(render_extended_states(l)) == a);
}

TEST_CASE("the lock round-trips and rejects what it cannot use") {
    BaseLock l;
    l.debian_key = "sha256:" + std::string(64, 'a');
    l.suite = "bookworm";
    l.architecture = "amd64";
    l.packages = {{"libc6", "2.36-9+deb12u4", "amd64", "libc6_2.36-9+deb12u4_amd64.deb", 2800000,
                   std::string(64, 'b'), true}};
    CHECK(BaseLock::parse(l.to_json(), "x.lock") == l);
    CHECK(l.find("libc6") != nullptr);
    CHECK(l.find("bash") == nullptr);
    BaseLock other = l;
    other.packages[0].sha256 = std::string(64, 'c');
    CHECK(other.content_digest() != l.content_digest());
    CHECK_THROWS_AS(BaseLock::parse("[]", "x.lock"), Error);
    std::string unsafe = l.to_json();
    unsafe.replace(unsafe.find("libc6_2"), 7, "../../x");
    CHECK_THROWS_WITH(BaseLock::parse(unsafe, "x.lock"), Catch::Contains("unsafe file name"));
}

TEST_CASE("upstream versions for __glibc") {
    CHECK(debian_upstream_version("2.36-9+deb12u4") == "2.36");
    CHECK(debian_upstream_version("1:2.3-1") == "2.3");
    CHECK(debian_upstream_version("5") == "5");
}
