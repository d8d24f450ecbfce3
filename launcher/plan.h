// The run plan: which node runs which container, and which processes with which argv and
// environment — a pure function of the resolved job and the facts the CLI gathered (image config,
// digests, run id and directory, resolved input paths). Printed by `envpack run --dry-run`,
// golden-file tested, and executed by the runtime.
//
// Shape (DESIGN.md "Launch model"): one node container per node (the unpacked image under a
// per-run writable layer, the node's network, /dev/shm sized by resources.shm_size, the code
// snapshot as the working directory, ./outputs and ./logs and each named output bind-mounted from
// the run record); each rank or task is a process entered into its node's container. A job with
// one process on one node runs as the container's own process.
//
// Distribution:
// - none: the command on every node (one node: the container's own process), label `main` or
//   `node N`.
// - mpi: `mpirun` inside node 0's container with a hostfile (`NAME slots=N` per node), the
//   plm_rsh_agent set to envpack's agent, tree spawn off; each rank runs through the rank
//   wrapper (`envpack-agent --rank --exits /.envpack/exits [--gpus N] -- COMMAND`,
//   rank_wrapper.c) that derives RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, NODE_RANK (and
//   CUDA_VISIBLE_DEVICES on GPU nodes) from OpenMPI's OMPI_COMM_WORLD_* or MPICH's PMI_*, runs
//   the command and records its failure in the node's exits directory (rank_exits.h: mounted
//   from NODE_RECORD/logs/exits). The ranks are listed too (`launch == by_mpirun`) with the
//   environment they will see. Each rank's output is also kept apart by mpirun
//   (`--output-filename`) under its node's logs:
//   `logs/ranks/1/rank.N/{stdout,stderr}` (node 0's in the record, node K's in nodes/NAME/).
//   An image whose MPI is MPICH (PlanContext::mpi) gets Hydra's `mpiexec -f HOSTFILE` (lines
//   `NAME:N`) with `-launcher ssh -launcher-exec AGENT`, `-genvlist` for the exported variables
//   and `-prepend-rank` (each output line labelled `[N]`) instead; its ranks see PMI_RANK,
//   PMI_SIZE, MPI_LOCALRANKID and MPI_LOCALNRANKS.
// - tensorflow: one process per task, workers then parameter servers spread round-robin over the
//   nodes, ports from 2222 up per node, a TF_CONFIG each (none for a single task); parameter
//   servers are stopped when the workers are done (`must_succeed == false`).
// - pytorch: process_count_per_instance processes per node with MASTER_ADDR (node 0),
//   MASTER_PORT 6105, WORLD_SIZE, RANK, LOCAL_RANK, NODE_RANK, LOCAL_WORLD_SIZE.
//
// Environment of every process: the image config's Env, then the job's environment_variables,
// then envpack's variables (later ones win).
//
// make_plan throws a bad-input Error located in the job file (via JobSpec::error_at) when the
// job cannot be planned: more processes per node than GPUs without `envpack.gpu_sharing`, a
// command and an image with neither Entrypoint nor Cmd, ...
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "launcher/job_spec.h"
#include "launcher/mpi_flavor.h"
#include "registry/image.h"

namespace envpack {

// Paths inside every node container.
namespace container_paths {
inline constexpr std::string_view k_workspace = "/workspace";  // the code snapshot
inline constexpr std::string_view k_inputs = "/mnt/inputs";    // /mnt/inputs/NAME
inline constexpr std::string_view k_outputs = "/mnt/outputs";  // /mnt/outputs/NAME
inline constexpr std::string_view k_pause = "/.envpack/bin/envpack-pause";
inline constexpr std::string_view k_agent = "/.envpack/bin/envpack-agent";
inline constexpr std::string_view k_hostfile = "/.envpack/hostfile";
inline constexpr std::string_view k_broker = "/.envpack/broker";
inline constexpr std::string_view k_python_hooks = "/.envpack/python";  // mpi: sitecustomize
inline constexpr std::string_view k_rank_exits = "/.envpack/exits";     // mpi: failed ranks (rw)
}  // namespace container_paths

inline constexpr int k_master_port = 6105;    // Azure ML's MASTER_PORT
inline constexpr int k_tf_first_port = 2222;  // TensorFlow's default, then up per node

// How nodes without `envpack.hosts` are made when there are several.
enum class NodeNetwork {
    namespaces,  // one network namespace per node on a private bridge (root)
    host,        // the host network for every node container (no root): distinct names only
};

// What the CLI gathered for the plan (I/O done before, so make_plan stays pure).
struct PlanContext {
    std::string run_id;
    std::string image;  // the reference as resolved (`demo/env:1`)
    std::string image_digest;
    ImageConfig image_config;        // Env, Entrypoint, Cmd, WorkingDir, User
    std::string snapshot_digest;     // "" when the job has no code
    std::filesystem::path run_dir;   // $ENVPACK_HOME/runs/ID
    std::filesystem::path code_dir;  // the snapshot's files on the host ("" = no code)
    // Host paths of data inputs that needed I/O (URL cache, datasets) by input name. Local paths
    // not listed here are the job's base_dir / path.
    std::map<std::string, std::filesystem::path> input_paths;
    std::filesystem::path pause_path;  // envpack-pause on the host
    std::filesystem::path agent_path;  // envpack's MPI rsh agent on the host
    NodeNetwork node_network = NodeNetwork::namespaces;
    std::string subnet_prefix = "10.88.0";  // namespaced nodes get PREFIX.2, PREFIX.3, ...
    std::string socket_ifname;  // sets GLOO_SOCKET_IFNAME / NCCL_SOCKET_IFNAME when not empty
    int gpus_per_node = 0;      // 0: a CPU node
    // CPUs of the one machine that runs every node (namespaces or host network on this machine);
    // 0: unknown, or nodes on several hosts. MPI ranks beyond it yield when idle (below).
    int host_cpus = 0;
    // mpi: the image's MPI (mpi_flavor.h), which decides the launcher's argv and hostfile.
    MpiFlavor mpi = MpiFlavor::openmpi;
};

struct PlanNode {
    int index = 0;
    std::string name;     // transport name and container hostname
    std::string address;  // for MPI / TF_CONFIG / MASTER_ADDR
    std::string netns;    // network namespace path; "" = the host's network
};

// One mount of a node container. `type` is "bind" (options rbind + ro/rw) or "tmpfs".
struct PlanMount {
    std::string destination;
    std::string source;
    std::string type = "bind";
    std::vector<std::string> options;
    // Preparation the runtime does on the host before the container starts:
    std::string copy_from;     // `download` inputs: copy this path to `source` first
    bool make_source = false;  // outputs and logs: create `source` as a directory
    bool read_only() const;
};

using EnvList = std::vector<std::pair<std::string, std::string>>;

struct PlanContainer {
    int node = 0;
    std::string id;  // runtime container ID, unique per run
    std::string hostname;
    std::filesystem::path bundle;  // holds config.json
    std::filesystem::path rootfs;  // the per-run writable rootfs (overlay)
    std::string netns;             // "" = host network
    std::uint64_t shm_bytes = 0;
    std::vector<PlanMount> mounts;  // in mount order
    std::string cwd;
    std::string user;  // the image's User, as written ("" = root)
    EnvList env;       // image Env + job variables + envpack's node variables
    // The container's own process: the job's single process, or envpack-pause.
    std::vector<std::string> init_args;
    bool init_is_job = false;
};

enum class ProcessRole { main, node, mpirun, rank, worker, ps };
enum class Launch {
    init,       // the container's own process
    exec,       // entered into the running container by envpack
    by_mpirun,  // started by mpirun through the agent (listed for its environment)
};

struct PlanProcess {
    std::string label;  // "main", "node 1", "mpirun", "rank 3", "worker 0", "ps 0"
    ProcessRole role = ProcessRole::main;
    int node = 0;
    int index = 0;  // rank / task index
    std::vector<std::string> argv;
    EnvList env;  // complete, in order
    std::string cwd;
    Launch launch = Launch::exec;
    bool must_succeed = true;  // false: stopped once the others are done (parameter servers)
};

struct RunPlan {
    std::string run_id;
    std::string image, image_digest, snapshot_digest;
    DistributionType distribution = DistributionType::none;
    std::vector<PlanNode> nodes;
    std::vector<PlanContainer> containers;  // one per node, same order
    std::vector<PlanProcess> processes;     // in start order
    std::string hostfile;                   // mpi: the hostfile's text
    std::string etc_hosts;                  // /etc/hosts for every node container
    std::optional<std::int64_t> timeout_seconds;
    std::vector<std::string> notes;  // the job's notes, and the plan's own
};

RunPlan make_plan(const JobSpec& job, const PlanContext& context);

// `envpack run --dry-run`: nodes, containers (mounts), processes (argv, cwd, environment).
std::string format_plan(const RunPlan& plan);
// The same as JSON (`--dry-run --json`).
nlohmann::json plan_to_json(const RunPlan& plan);

// The TF_CONFIG of one task, as Azure ML writes it (compact JSON, keys cluster, task,
// environment). `workers`/`ps` are `address:port`.
std::string tf_config(const std::vector<std::string>& workers, const std::vector<std::string>& ps,
                      std::string_view task_type, int task_index);

// `/bin/sh -c COMMAND` with ${{inputs.X}} / ${{outputs.X}} replaced by container paths (or
// literal values, or a `direct` input's path as written).
std::string substitute_command(const JobSpec& job);

}  // namespace envpack
