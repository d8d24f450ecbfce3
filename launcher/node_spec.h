// What the launcher sends to `envpack node run` on a host (hosts_backend.h): one node container of
// the plan, with every host path that belongs to the run made relative to the node's directory on
// that host, the small files the mounts read (/etc/hosts, the hostfile, the MPI python hook), and
// the image by manifest digest (its blobs are sent beforehand, only those the host lacks), and
// the job's local inputs by digest (sent beforehand to the host's input cache, hosts_inputs.h).
//
// Pure value with a JSON round trip (one line on the wire). `make_node_spec` cuts it out of a plan;
// `localize` turns it back into a PlanContainer on the host that runs it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "launcher/job_spec.h"
#include "launcher/plan.h"
#include "launcher/runtime.h"
#include "registry/image.h"

namespace envpack {

// A node mpirun's agent may reach from node 0 (broker.h), as node 0's host sees it: the host
// (transport name, home, program), the container, and the process template entered there.
struct NodeBrokerTarget {
    std::string node;
    std::string container_id;
    JobHost host;
    ExecProcess process;  // env, cwd, uid, gid (args come from the agent)
};

// A mount source written `@run/REL` is REL under the node's directory on its host.
inline constexpr std::string_view k_run_relative = "@run/";
// A mount source (ro_mount) or copy_from (download) written `@input/HEX` is the content of the
// input whose tar has digest sha256:HEX in the host's input cache (hosts_inputs.h).
inline constexpr std::string_view k_input_relative = "@input/";

struct NodeSpec {
    std::string run_id;
    int node = 0;
    std::string node_name;
    std::string runtime = "auto";  // auto | runc | crun (the job's envpack.runtime)
    Descriptor manifest;           // the image, read from the host's own store
    PlanContainer container;       // bundle and rootfs empty: the host chooses them
    // Files written under the node's directory before the container starts (relative path,
    // content): `hosts`, `hostfile`, `python/sitecustomize.py`.
    std::vector<std::pair<std::string, std::string>> files;
    std::uint64_t code_bytes = 0;  // a tar of the code snapshot follows the spec on the wire
    // Node 0 of an MPI job on several nodes: its host serves the broker (socket at @run/broker)
    // and reaches the other nodes' hosts through this transport (`envpack.remote_exec`).
    std::vector<std::string> transport;
    std::vector<NodeBrokerTarget> broker_targets;

    nlohmann::json to_json() const;
    // Throws a bad-input Error naming `where` when the JSON is not a node spec.
    static NodeSpec from_json(const nlohmann::json& j, std::string_view where);
};

// Node `node` of `plan` as a NodeSpec: mount sources under `record_dir` become `@run/REL`, the
// files those mounts read are copied into `files`; an input's local path (a `ro_mount` source, a
// `download` copy_from) listed in `input_digests` (launching machine's path -> digest of its tar,
// hosts_inputs.h) becomes `@input/HEX`. Pure apart from reading those files.
NodeSpec make_node_spec(const RunPlan& plan, int node, const std::filesystem::path& record_dir,
                        const Descriptor& manifest, std::string runtime,
                        const std::map<std::string, Digest>& input_digests = {});

// The container as the host runs it: `@run/` sources under `node_dir`, `@input/` sources and
// copy_from in the host's input cache `inputs_dir` (hosts_inputs.h), the pause and agent binaries
// from `helpers_dir` (beside that host's envpack), bundle `node_dir/bundle`, the given rootfs.
// Pure.
PlanContainer localize(const NodeSpec& spec, const std::filesystem::path& node_dir,
                       const std::filesystem::path& helpers_dir,
                       const std::filesystem::path& rootfs,
                       const std::filesystem::path& inputs_dir);

// The relative directories whose contents come back to the launcher (outputs and logs: the
// mounts envpack creates), in mount order, without those inside another one listed.
std::vector<std::string> returned_dirs(const NodeSpec& spec);

}  // namespace envpack
