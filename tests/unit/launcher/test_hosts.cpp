// The hosts backend's pure parts and its wire formats: a node spec cut out of a plan (paths under
// the record made relative to the node's directory, the files those mounts read carried along,
// the broker's socket left as the launcher's path) and put back together on a host; the JSON
// round trip; `envpack` on a host through the transport; the blob stream between two stores
// (verified by digest, a wrong blob refused and not kept); outputs merged lowest node first.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "launcher/hosts_backend.h"
#include "launcher/hosts_node.h"
#include "launcher/node_spec.h"
#include "launcher/run_record.h"
#include "launcher/runtime.h"
#include "plan_mounts.h"

using namespace envpack;
namespace fs = std::filesystem;
using envpack::testing::mount_at;

namespace {

// A two-node MPI plan as make_plan lays it out, its record in `record`.
RunPlan mpi_plan(const fs::path& record) {
    JobSpec job = JobSpec::parse(
        "command: python3 t.py\nenvironment: demo/env:1\ncode: .\n"
        "distribution: {type: mpi, process_count_per_instance: 2}\n"
        "outputs: {model: {type: uri_folder}}\n"
        "envpack:\n  remote_exec: ip netns exec\n"
        "  hosts: [{name: h1, address: 10.9.0.2}, {name: h2, address: 10.9.0.3, home: /h2}]\n",
        "job.yml");
    PlanContext c;
    c.run_id = "r1";
    c.image = "demo/env:1";
    c.image_digest = "sha256:" + std::string(64, '1');
    c.run_dir = record;
    c.code_dir = record / "code";
    c.pause_path = "/opt/envpack/envpack-pause";
    c.agent_path = "/opt/envpack/envpack-agent";
    return make_plan(job, c);
}

}  // namespace

TEST_CASE("hosts: a node spec carries the node's container with run paths made relative") {
    TempDir tmp;
    fs::path record = tmp.path() / "runs" / "r1";
    RunPlan plan = mpi_plan(record);
    REQUIRE(plan.nodes.size() == 2);
    // What the launcher writes before it cuts the specs.
    make_dirs(record / "python");
    write_file_atomic(record / "hosts", plan.etc_hosts, Durability::none);
    write_file_atomic(record / "hostfile", plan.hostfile, Durability::none);
    write_file_atomic(record / "python" / "sitecustomize.py", "hook\n", Durability::none);

    Descriptor manifest;
    manifest.media_type = "application/vnd.oci.image.manifest.v1+json";
    manifest.digest = Digest::of("m");
    manifest.size = 1;
    NodeSpec s0 = make_node_spec(plan, 0, record, manifest, "runc");
    NodeSpec s1 = make_node_spec(plan, 1, record, manifest, "runc");
    CHECK(s0.node_name == "h1");
    CHECK(s1.node_name == "h2");
    CHECK(mount_at(s0.container, "/workspace").source == "@run/code");
    CHECK(mount_at(s0.container, "/workspace/outputs").source == "@run/outputs");
    CHECK(mount_at(s1.container, "/workspace/outputs").source == "@run/nodes/h2/outputs");
    CHECK(mount_at(s1.container, "/mnt/outputs/model").source == "@run/nodes/h2/outputs/model");
    CHECK(mount_at(s0.container, "/etc/hosts").source == "@run/hosts");
    // Node 0's host serves the broker.
    CHECK(mount_at(s0.container, "/.envpack/broker").source == "@run/broker");
    std::map<std::string, std::string> files(s0.files.begin(), s0.files.end());
    CHECK(files.at("hosts") == plan.etc_hosts);
    CHECK(files.at("hostfile") == "h1 slots=2\nh2 slots=2\n");
    CHECK(files.at("python/sitecustomize.py") == "hook\n");
    CHECK(s0.container.bundle.empty());
    CHECK(returned_dirs(s1) == std::vector<std::string>{"nodes/h2/outputs", "nodes/h2/logs"});

    s0.transport = {"ip", "netns", "exec"};
    s0.broker_targets.push_back({"h2", "c-1", {"h2", "10.9.0.3", "/h2", "/bin/envpack", {}}, {}});
    s0.broker_targets.back().process.env = {{"A", "1"}};
    s0.broker_targets.back().process.uid = 7;
    NodeSpec back0 = NodeSpec::from_json(nlohmann::json::parse(s0.to_json().dump()), "spec");
    CHECK(back0.to_json() == s0.to_json());
    CHECK(back0.broker_targets.at(0).host == s0.broker_targets.at(0).host);
    CHECK(back0.broker_targets.at(0).process.uid == 7);
    // The wire form round-trips.
    NodeSpec back = NodeSpec::from_json(nlohmann::json::parse(s1.to_json().dump()), "spec");
    CHECK(back.to_json() == s1.to_json());
    CHECK(back.container.env == s1.container.env);
    CHECK_THROWS_AS(NodeSpec::from_json(nlohmann::json::object(), "spec"), Error);

    // On the host: paths under its node directory, helpers beside its envpack.
    PlanContainer c =
        localize(s1, "/h2/node-runs/r1/h2", "/usr/lib/envpack", "/h2/root/rootfs", "/h2/inputs");
    CHECK(c.bundle == "/h2/node-runs/r1/h2/bundle");
    CHECK(c.rootfs == "/h2/root/rootfs");
    CHECK(mount_at(c, "/workspace").source == "/h2/node-runs/r1/h2/code");
    CHECK(mount_at(c, "/workspace/logs").source == "/h2/node-runs/r1/h2/nodes/h2/logs");
    CHECK(mount_at(c, "/.envpack/bin/envpack-pause").source == "/usr/lib/envpack/envpack-pause");
    CHECK(mount_at(c, "/.envpack/bin/envpack-agent").source == "/usr/lib/envpack/envpack-agent");
}

TEST_CASE("hosts: envpack on a host, through the transport, in that host's home") {
    JobHost h{"h2", "10.9.0.3", "/var/lib/env pack", "/opt/envpack/bin/envpack", {}};
    auto argv = remote_envpack(Transport::parse({"ip", "netns", "exec"}), h, {"node", "run"});
    CHECK(argv == std::vector<std::string>{"ip", "netns", "exec", "h2", "sh", "-c",
                                           "env 'ENVPACK_HOME=/var/lib/env pack' "
                                           "/opt/envpack/bin/envpack node run"});
    JobHost plain{"h3", "h3", "", "", {}};
    CHECK(remote_envpack(Transport::parse({"ssh"}), plain, {"node", "blobs-have"}) ==
          std::vector<std::string>{"ssh", "h3", "sh", "-c", "'envpack node blobs-have'"});
}

TEST_CASE("hosts: blobs stream between two stores, each verified by its digest") {
    TempDir tmp;
    Store from(tmp.path() / "a");
    Store to(tmp.path() / "b");
    std::vector<Descriptor> blobs;
    for (std::string content : {std::string("config"), std::string(300000, 'x'), std::string()}) {
        BlobWriter w = from.begin_blob();
        w.write(content.data(), content.size());
        Descriptor d;
        d.digest = w.commit();
        d.size = static_cast<std::int64_t>(content.size());
        blobs.push_back(d);
    }
    int p[2];
    REQUIRE(::pipe(p) == 0);
    std::uint64_t sent = 0;
    std::thread writer([&] {
        sent = write_blob_stream(p[1], from, blobs);
        ::close(p[1]);
    });
    int received = receive_blob_stream(p[0], to);
    writer.join();
    ::close(p[0]);
    CHECK(received == 3);
    CHECK(sent == 300006);
    std::vector<std::string> wanted;
    for (const auto& b : blobs) {
        CHECK(to.has_blob(b.digest));
        wanted.push_back(b.digest.to_string());
    }
    wanted.push_back(Digest::of("absent").to_string());
    wanted.push_back("not a digest");
    CHECK(blobs_present(to, wanted).size() == 3);

    // A blob whose bytes do not match its digest is refused and not kept.
    Digest claimed = Digest::of("good");
    std::string stream = "blob " + claimed.to_string() + " 4\nbad!end\n";
    REQUIRE(::pipe(p) == 0);
    REQUIRE(::write(p[1], stream.data(), stream.size()) == static_cast<ssize_t>(stream.size()));
    ::close(p[1]);
    CHECK_THROWS_AS(receive_blob_stream(p[0], to), Error);
    ::close(p[0]);
    CHECK_FALSE(to.has_blob(claimed));

    // A stream cut short is an error too.
    stream = "blob " + claimed.to_string() + " 4\ngo";
    REQUIRE(::pipe(p) == 0);
    REQUIRE(::write(p[1], stream.data(), stream.size()) == static_cast<ssize_t>(stream.size()));
    ::close(p[1]);
    CHECK_THROWS_WITH(receive_blob_stream(p[0], to), Catch::Contains("ended inside"));
    ::close(p[0]);
}

TEST_CASE("hosts: outputs merge lowest node first; every path two nodes wrote is listed") {
    TempDir tmp;
    fs::path r = tmp.path();
    auto put = [](const fs::path& path, const std::string& text) {
        make_dirs(path.parent_path());
        write_file_atomic(path, text, Durability::none);
    };
    put(r / "outputs" / "shared.txt", "node 0\n");
    put(r / "outputs" / "only0.txt", "0\n");
    put(r / "nodes" / "b" / "outputs" / "shared.txt", "node 1\n");
    put(r / "nodes" / "b" / "outputs" / "sub" / "only1.txt", "1\n");
    put(r / "nodes" / "b" / "outputs" / "both12.txt", "from 1\n");
    put(r / "nodes" / "c" / "outputs" / "both12.txt", "from 2\n");
    put(r / "nodes" / "c" / "outputs" / "shared.txt", "node 2\n");
    auto conflicts = merge_node_outputs(r, {"a", "b", "c"});
    CHECK(read_file(r / "outputs" / "shared.txt") == "node 0\n");
    CHECK(read_file(r / "outputs" / "sub" / "only1.txt") == "1\n");
    CHECK(read_file(r / "outputs" / "both12.txt") == "from 1\n");
    CHECK(conflicts ==
          std::vector<std::string>{"outputs/both12.txt: kept b's copy, also written by c",
                                   "outputs/shared.txt: kept a's copy, also written by b, c"});
    // Node 0 wrote nothing: node 1's copy is the lowest.
    TempDir tmp2;
    put(tmp2.path() / "nodes" / "b" / "outputs" / "x", "1");
    CHECK(merge_node_outputs(tmp2.path(), {"a", "b"}).empty());
    CHECK(read_file(tmp2.path() / "outputs" / "x") == "1");
}

TEST_CASE("hosts: status.json keeps the output conflicts") {
    RunStatus s;
    s.id = "r1";
    CHECK(s.to_json().find("output_conflicts") == std::string::npos);
    s.output_conflicts = {"outputs/x: kept a's copy, also written by b"};
    RunStatus back = RunStatus::parse(s.to_json(), "status.json");
    CHECK(back.output_conflicts == s.output_conflicts);
}

TEST_CASE("hosts: a sweep removes the nodes whose node run died, never a live one") {
    TempDir tmp;
    fs::path dead = node_run_dir(tmp.path(), "r1", "a");
    fs::path live = node_run_dir(tmp.path(), "r2", "b");
    fs::path making = tmp.path() / "node-runs" / "r2" / ".tmp-c-1";
    for (const auto& d : {dead, live, making}) {
        make_dirs(d);
        write_file_atomic(d / ".lock", "", Durability::none);
    }
    int fd = ::open((live / ".lock").c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    CHECK(sweep_dead_nodes(tmp.path(), Runtime{}) == 1);
    CHECK_FALSE(fs::exists(dead));
    CHECK_FALSE(fs::exists(dead.parent_path()));
    CHECK(fs::exists(live));
    CHECK(fs::exists(making));
    ::close(fd);
    CHECK(sweep_dead_nodes(tmp.path(), Runtime{}) == 1);
    CHECK_FALSE(fs::exists(live));
}
