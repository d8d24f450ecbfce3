#include <catch2/catch.hpp>

#include <string>

#include "golden.h"
#include "launcher/oci_config.h"
#include "launcher/plan.h"

using namespace envpack;
using envpack::test::check_golden;
using envpack::test::launcher_test_dir;

namespace {

RunPlan plan_of(const std::string& name) {
    auto path = launcher_test_dir() / "jobs" / (name + ".yml");
    JobSpec spec = JobSpec::parse(test::read_text(path), "jobs/" + name + ".yml");
    spec.base_dir = "/home/user/project";
    PlanContext c;
    c.run_id = "r1";
    c.image = "demo/env:1";
    c.image_config.env = {"PATH=/opt/conda/bin:/usr/bin:/bin"};
    c.run_dir = "/var/envpack/runs/r1";
    c.code_dir = "/var/envpack/runs/r1/code";
    c.pause_path = "/usr/lib/envpack/envpack-pause";
    c.agent_path = "/usr/lib/envpack/envpack-agent";
    return make_plan(spec, c);
}

}  // namespace

TEST_CASE("oci config: golden files (single process on the host network; mpi node 1)", "[oci]") {
    RunPlan single = plan_of("single");
    check_golden("config_single.json", render_oci_config(single.containers[0], OciUser{}));
    RunPlan mpi = plan_of("mpi_2x2");
    check_golden("config_mpi_node1.json",
                 render_oci_config(mpi.containers[1], OciUser{1000, 1000, {27}}));
}

TEST_CASE("oci config: what it promises", "[oci]") {
    RunPlan mpi = plan_of("mpi_2x2");
    auto j = make_oci_config(mpi.containers[0], OciUser{});
    CHECK(j["process"]["terminal"] == false);
    CHECK(j["root"]["readonly"] == false);
    CHECK(j["hostname"] == "node0");
    // Node 0's own process is mpirun; the other nodes run envpack-pause.
    CHECK(j["process"]["args"][0] == "mpirun");
    CHECK(make_oci_config(mpi.containers[1], OciUser{})["process"]["args"] ==
          nlohmann::ordered_json::array({"/.envpack/bin/envpack-pause"}));
    bool shm = false, cgroup = false, netns = false;
    for (const auto& m : j["mounts"]) {
        if (m["destination"] == "/dev/shm") {
            shm = m["options"].back() == "size=2147483648";
        }
        cgroup = cgroup || m["type"] == "cgroup";
    }
    for (const auto& ns : j["linux"]["namespaces"]) {
        if (ns["type"] == "network") {
            netns = ns["path"] == "/run/netns/envpack-r1-0";
        }
        CHECK(ns["type"] != "cgroup");
    }
    CHECK(shm);
    CHECK(!cgroup);
    CHECK(netns);
    // The host network: no network namespace at all.
    auto single = make_oci_config(plan_of("single").containers[0], OciUser{});
    for (const auto& ns : single["linux"]["namespaces"]) {
        CHECK(ns["type"] != "network");
    }
    CHECK(single["process"]["args"][0] == "/bin/sh");
}

TEST_CASE("oci config: numeric users", "[oci]") {
    CHECK(parse_numeric_user("") == OciUser{});
    CHECK(parse_numeric_user("1000") == OciUser{1000, 0, {}});
    CHECK(parse_numeric_user("1000:100") == OciUser{1000, 100, {}});
    CHECK(!parse_numeric_user("nobody"));
    CHECK(!parse_numeric_user("1000:users"));
}
