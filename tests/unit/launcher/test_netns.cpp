// Node network names (pure): short enough for IFNAMSIZ, distinct per run, stable per run ID, a /24
// in 10.64.0.0/10; and the ip command lines that make and remove it.
#include <catch2/catch.hpp>

#include <set>

#include "launcher/netns.h"

using namespace envpack;

TEST_CASE("node network names fit IFNAMSIZ and differ between runs") {
    NetNames a = net_names("20261201-103011.123-abcd", 3);
    CHECK(a.bridge.size() <= 15);
    REQUIRE(a.veths.size() == 3);
    for (const auto& v : a.veths) {
        CHECK(v.size() <= 15);
    }
    CHECK(a.namespaces == std::vector<std::string>{"envpack-20261201-103011.123-abcd-0",
                                                   "envpack-20261201-103011.123-abcd-1",
                                                   "envpack-20261201-103011.123-abcd-2"});
    CHECK(a.netns_path(1) == "/run/netns/envpack-20261201-103011.123-abcd-1");
    CHECK(net_names("20261201-103011.123-abcd", 3).subnet_prefix == a.subnet_prefix);
    CHECK(a.node_address(0) == a.subnet_prefix + ".2");
    CHECK(a.subnet() == a.subnet_prefix + ".0/24");
    // Another attempt moves the subnet, not the names.
    NetNames a1 = net_names("20261201-103011.123-abcd", 3, 1);
    CHECK(a1.bridge == a.bridge);
    CHECK(a1.subnet_prefix != a.subnet_prefix);

    std::set<std::string> bridges, subnets;
    for (int i = 0; i < 200; ++i) {
        NetNames n = net_names("20261201-103011.123-" + std::to_string(1000 + i), 2);
        bridges.insert(n.bridge);
        subnets.insert(n.subnet_prefix);
        int x = 0, y = 0;
        REQUIRE(std::sscanf(n.subnet_prefix.c_str(), "10.%d.%d", &x, &y) == 2);
        CHECK((x >= 64 && x < 128 && y >= 0 && y < 256));
    }
    CHECK(bridges.size() == 200);
    CHECK(subnets.size() >= 190);  // a /24 from 16384: a few collisions, moved by attempts
}

TEST_CASE("node network ip commands") {
    NetNames n = net_names("r", 2);
    auto setup = net_setup_commands(n);
    REQUIRE(setup.size() == 3 + 2 * 6);
    CHECK(setup[0] == std::vector<std::string>{"ip", "link", "add", n.bridge, "type", "bridge"});
    CHECK(setup[1] == std::vector<std::string>{"ip", "addr", "add", n.subnet_prefix + ".1/24",
                                               "dev", n.bridge});
    CHECK(setup[4] == std::vector<std::string>{"ip", "link", "add", n.veths[0], "type", "veth",
                                               "peer", "name", "eth0", "netns", "envpack-r-0"});
    CHECK(setup[6] == std::vector<std::string>{"ip", "-n", "envpack-r-0", "addr", "add",
                                               n.subnet_prefix + ".2/24", "dev", "eth0"});
    CHECK(setup[12] == std::vector<std::string>{"ip", "-n", "envpack-r-1", "addr", "add",
                                                n.subnet_prefix + ".3/24", "dev", "eth0"});
    auto down = net_teardown_commands(n);
    CHECK(down.front() == std::vector<std::string>{"ip", "netns", "delete", "envpack-r-0"});
    CHECK(down.back() == std::vector<std::string>{"ip", "link", "delete", n.bridge});
}
