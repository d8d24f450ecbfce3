// make_plan: nodes, node containers and processes of a run (formatting is plan_format.cpp).
#include "launcher/plan.h"

#include <algorithm>

#include <fmt/format.h>

namespace envpack {
namespace {

namespace cp = container_paths;

void set_env(EnvList& env, std::string key, std::string value) {
    for (auto& kv : env) {
        if (kv.first == key) {
            kv.second = std::move(value);
            return;
        }
    }
    env.emplace_back(std::move(key), std::move(value));
}

void append_env(EnvList& env, const EnvList& more) {
    for (const auto& [k, v] : more) {
        set_env(env, k, v);
    }
}

std::string input_container_path(const JobInput& in) {
    std::string dir = fmt::format("{}/{}", cp::k_inputs, in.name);
    if (in.type == "uri_file" && in.paths.size() == 1) {
        std::string base = std::filesystem::path(in.paths.front()).filename().string();
        if (!base.empty()) {
            return dir + "/" + base;
        }
    }
    return dir;
}

// What ${{inputs.X}} stands for.
std::string input_value(const JobInput& in) {
    if (in.literal) {
        return in.value;
    }
    if (in.mode == InputMode::direct) {
        return in.paths.front();
    }
    return input_container_path(in);
}

std::string output_container_path(const JobOutput& out) {
    return fmt::format("{}/{}", cp::k_outputs, out.name);
}

std::vector<PlanNode> plan_nodes(const JobSpec& job, const PlanContext& ctx) {
    std::vector<PlanNode> nodes;
    const auto& hosts = job.envpack.hosts;
    if (!hosts.empty()) {
        size_t n = job.resources.instance_count ? static_cast<size_t>(*job.resources.instance_count)
                                                : hosts.size();
        for (size_t i = 0; i < n; ++i) {
            nodes.push_back({static_cast<int>(i), hosts[i].name, hosts[i].address, ""});
        }
        return nodes;
    }
    int n = job.resources.instance_count.value_or(1);
    for (int i = 0; i < n; ++i) {
        PlanNode node{i, fmt::format("node{}", i), "127.0.0.1", ""};
        if (n > 1 && ctx.node_network == NodeNetwork::namespaces) {
            node.address = fmt::format("{}.{}", ctx.subnet_prefix, i + 2);
            node.netns = fmt::format("/run/netns/envpack-{}-{}", ctx.run_id, i);
        }
        nodes.push_back(std::move(node));
    }
    return nodes;
}

// Where a node's outputs and logs go: node 0 straight into the record, the others beside it
// (merged afterwards, node 0's copy winning).
std::filesystem::path node_record_dir(const PlanContext& ctx, const PlanNode& node) {
    return node.index == 0 ? ctx.run_dir : ctx.run_dir / "nodes" / node.name;
}

PlanMount bind_mount(std::string destination, std::string source, bool read_only) {
    PlanMount m;
    m.destination = std::move(destination);
    m.source = std::move(source);
    m.options = {"rbind", read_only ? "ro" : "rw"};
    return m;
}

class Planner {
  public:
    Planner(const JobSpec& job, const PlanContext& ctx) : m_job(job), m_ctx(ctx) {}

    RunPlan run() {
        m_plan.run_id = m_ctx.run_id;
        m_plan.image = m_ctx.image;
        m_plan.image_digest = m_ctx.image_digest;
        m_plan.snapshot_digest = m_ctx.snapshot_digest;
        m_plan.distribution = m_job.distribution.type;
        m_plan.timeout_seconds = m_job.timeout_seconds;
        m_plan.notes = m_job.notes;
        m_plan.nodes = plan_nodes(m_job, m_ctx);
        m_plan.etc_hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
        for (const auto& n : m_plan.nodes) {
            m_plan.etc_hosts += fmt::format("{}\t{}\n", n.address, n.name);
        }
        m_cwd = !m_job.code.empty() || m_ctx.image_config.working_dir.empty()
                    ? std::string(cp::k_workspace)
                    : m_ctx.image_config.working_dir;
        m_job_argv = job_argv();
        common_env();
        for (const auto& node : m_plan.nodes) {
            m_plan.containers.push_back(container(node));
        }
        switch (m_job.distribution.type) {
            case DistributionType::none:
                plan_single();
                break;
            case DistributionType::mpi:
                plan_mpi();
                break;
            case DistributionType::tensorflow:
                plan_tensorflow();
                break;
            case DistributionType::pytorch:
                plan_pytorch();
                break;
        }
        finish_init();
        return std::move(m_plan);
    }

  private:
    std::vector<std::string> job_argv() const {
        if (!m_job.command.empty()) {
            return {"/bin/sh", "-c", substitute_command(m_job)};
        }
        std::vector<std::string> argv = m_ctx.image_config.entrypoint;
        argv.insert(argv.end(), m_ctx.image_config.cmd.begin(), m_ctx.image_config.cmd.end());
        if (argv.empty()) {
            throw m_job.error_at({{1, 1}, 0},
                                 fmt::format("the job has no `command` and image `{}` has neither "
                                             "Entrypoint nor Cmd",
                                             m_ctx.image),
                                 "add `command:` to the job file");
        }
        return argv;
    }

    // Variables every process of the run sees (after the image's and the job's).
    void common_env() {
        for (const auto& e : m_ctx.image_config.env) {
            auto eq = e.find('=');
            set_env(m_base_env, e.substr(0, eq), eq == std::string::npos ? "" : e.substr(eq + 1));
        }
        append_env(m_base_env, m_job.environment_variables);
        set_env(m_base_env, "ENVPACK_RUN_ID", m_ctx.run_id);
        set_env(m_base_env, "AZUREML_RUN_ID", m_ctx.run_id);
        for (const auto& in : m_job.inputs) {
            set_env(m_base_env, "AZURE_ML_INPUT_" + in.name, input_value(in));
        }
        for (const auto& out : m_job.outputs) {
            set_env(m_base_env, "AZURE_ML_OUTPUT_" + out.name, output_container_path(out));
        }
        if (!m_ctx.socket_ifname.empty()) {
            set_env(m_base_env, "GLOO_SOCKET_IFNAME", m_ctx.socket_ifname);
            set_env(m_base_env, "NCCL_SOCKET_IFNAME", m_ctx.socket_ifname);
        }
    }

    std::string input_source(const JobInput& in) const {
        if (auto it = m_ctx.input_paths.find(in.name); it != m_ctx.input_paths.end()) {
            return it->second.string();
        }
        if (in.is_dataset() || in.is_url()) {
            return fmt::format("<resolved when the run starts: {}>", in.paths.front());
        }
        std::filesystem::path p = in.paths.front();
        return (p.is_absolute() ? p : (m_job.base_dir / p).lexically_normal()).string();
    }

    PlanContainer container(const PlanNode& node) const {
        PlanContainer c;
        c.node = node.index;
        c.id = fmt::format("envpack-{}-{}", m_ctx.run_id, node.index);
        c.hostname = node.name;
        std::filesystem::path node_dir = m_ctx.run_dir / "nodes" / node.name;
        c.bundle = node_dir / "bundle";
        c.rootfs = node_dir / "rootfs";
        c.netns = node.netns;
        c.shm_bytes = m_job.resources.shm_bytes;
        c.cwd = m_cwd;
        c.user = m_ctx.image_config.user;
        c.env = m_base_env;
        std::filesystem::path record = node_record_dir(m_ctx, node);
        if (!m_ctx.code_dir.empty()) {
            c.mounts.push_back(
                bind_mount(std::string(cp::k_workspace), m_ctx.code_dir.string(), false));
        }
        for (const char* dir : {"outputs", "logs"}) {
            PlanMount m = bind_mount(m_cwd + "/" + dir, (record / dir).string(), false);
            m.make_source = true;
            c.mounts.push_back(std::move(m));
        }
        for (const auto& out : m_job.outputs) {
            PlanMount m = bind_mount(output_container_path(out),
                                     (record / "outputs" / out.name).string(), false);
            m.make_source = true;
            c.mounts.push_back(std::move(m));
        }
        for (const auto& in : m_job.inputs) {
            if (in.literal || in.mode == InputMode::direct) {
                continue;
            }
            if (in.mode == InputMode::ro_mount) {
                c.mounts.push_back(bind_mount(input_container_path(in), input_source(in), true));
            } else {
                // A file is copied as a file (and mounted onto its path), a folder as a folder.
                std::filesystem::path copy = node_dir / "inputs" / in.name;
                if (!input_container_path(in).ends_with("/" + in.name)) {
                    copy /= std::filesystem::path(input_container_path(in)).filename();
                }
                PlanMount m = bind_mount(input_container_path(in), copy.string(), false);
                m.copy_from = input_source(in);
                c.mounts.push_back(std::move(m));
            }
        }
        c.mounts.push_back(bind_mount("/etc/hosts", (m_ctx.run_dir / "hosts").string(), true));
        if (m_job.distribution.type == DistributionType::mpi) {
            // mpi_python_hook.h: a failing rank aborts the job instead of hanging it.
            c.mounts.push_back(bind_mount(std::string(cp::k_python_hooks),
                                          (m_ctx.run_dir / "python").string(), true));
            // Every orted checks that its plm_rsh_agent exists, though only node 0's runs it;
            // every rank runs through its --rank mode.
            c.mounts.push_back(
                bind_mount(std::string(cp::k_agent), m_ctx.agent_path.string(), true));
            // rank_exits.h: where the rank wrapper records a failed rank, watched by envpack.
            PlanMount exits = bind_mount(std::string(cp::k_rank_exits),
                                         (record / "logs" / "exits").string(), false);
            exits.make_source = true;
            c.mounts.push_back(std::move(exits));
        }
        if (m_job.distribution.type == DistributionType::mpi && node.index == 0) {
            c.mounts.push_back(bind_mount(std::string(cp::k_hostfile),
                                          (m_ctx.run_dir / "hostfile").string(), true));
            if (m_plan.nodes.size() > 1) {  // the broker runs only for several nodes
                c.mounts.push_back(bind_mount(std::string(cp::k_broker),
                                              (m_ctx.run_dir / "broker").string(), false));
            }
        }
        return c;
    }

    PlanProcess process(std::string label, ProcessRole role, int node, int index,
                        const EnvList& extra) const {
        PlanProcess p;
        p.label = std::move(label);
        p.role = role;
        p.node = node;
        p.index = index;
        p.argv = m_job_argv;
        p.env = m_plan.containers[static_cast<size_t>(node)].env;
        append_env(p.env, extra);
        p.cwd = m_cwd;
        return p;
    }

    const PlanNode& master() const { return m_plan.nodes.front(); }

    void check_gpus(int per_node) const {
        if (m_ctx.gpus_per_node > 0 && per_node > m_ctx.gpus_per_node &&
            !m_job.envpack.gpu_sharing) {
            throw m_job.error_at(
                m_job.distribution.mark,
                fmt::format("{} processes per node but the nodes have {} GPUs", per_node,
                            m_ctx.gpus_per_node),
                "lower process_count_per_instance, or set `envpack.gpu_sharing: true`");
        }
    }

    std::string gpu_of(int local_rank) const {
        return std::to_string(local_rank % std::max(1, m_ctx.gpus_per_node));
    }

    void plan_single() {
        const size_t n = m_plan.nodes.size();
        for (const auto& node : m_plan.nodes) {
            m_plan.processes.push_back(process(n == 1 ? "main" : fmt::format("node {}", node.index),
                                               n == 1 ? ProcessRole::main : ProcessRole::node,
                                               node.index, node.index, {}));
        }
    }

    EnvList master_env() const {
        return {{"MASTER_ADDR", master().address}, {"MASTER_PORT", std::to_string(k_master_port)}};
    }

    void plan_mpi() {
        const int ppn = m_job.distribution.process_count_per_instance;
        const int nodes = static_cast<int>(m_plan.nodes.size());
        check_gpus(ppn);
        const bool mpich = m_ctx.mpi == MpiFlavor::mpich;
        for (const auto& node : m_plan.nodes) {
            m_plan.hostfile += mpich ? fmt::format("{}:{}\n", node.name, ppn)
                                     : fmt::format("{} slots={}\n", node.name, ppn);
        }
        EnvList shared = master_env();
        std::string pythonpath = std::string(cp::k_python_hooks);
        for (const auto& [k, v] : m_base_env) {
            if (k == "PYTHONPATH" && !v.empty()) {
                pythonpath += ":" + v;
            }
        }
        shared.emplace_back("PYTHONPATH", pythonpath);
        shared.emplace_back("AZ_BATCH_MASTER_NODE",
                            fmt::format("{}:{}", master().address, k_master_port));
        shared.emplace_back("AZ_BATCHAI_MPI_MASTER_NODE", master().address);
        for (auto& c : m_plan.containers) {
            append_env(c.env, shared);
        }
        // The rank wrapper (rank_wrapper.c) maps OpenMPI's OMPI_COMM_WORLD_* or MPICH's Hydra
        // PMI_RANK/PMI_SIZE/MPI_LOCALRANKID/... to RANK, WORLD_SIZE, ..., runs the command and
        // records its failure where envpack watches (rank_exits.h).
        std::vector<std::string> wrapper = {std::string(cp::k_agent), "--rank", "--exits",
                                            std::string(cp::k_rank_exits)};
        if (m_ctx.gpus_per_node > 0) {
            wrapper.insert(wrapper.end(), {"--gpus", std::to_string(m_ctx.gpus_per_node)});
        }
        wrapper.emplace_back("--");
        EnvList exported = m_job.environment_variables;
        append_env(exported, shared);
        set_env(exported, "ENVPACK_RUN_ID", m_ctx.run_id);
        std::vector<std::string> argv =
            mpich ? hydra_argv(exported, nodes * ppn) : openmpi_argv(exported, nodes * ppn);
        argv.insert(argv.end(), wrapper.begin(), wrapper.end());
        argv.insert(argv.end(), m_job_argv.begin(), m_job_argv.end());

        PlanProcess launcher = process("mpirun", ProcessRole::mpirun, 0, 0, {});
        launcher.argv = std::move(argv);
        if (!mpich) {
            set_env(launcher.env, "OMPI_ALLOW_RUN_AS_ROOT", "1");
            set_env(launcher.env, "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
        }
        m_plan.processes.push_back(std::move(launcher));

        const int world = nodes * ppn;
        for (int node = 0; node < nodes; ++node) {
            for (int local = 0; local < ppn; ++local) {
                int rank = node * ppn + local;
                EnvList env = mpich ? EnvList{{"PMI_RANK", std::to_string(rank)},
                                              {"PMI_SIZE", std::to_string(world)},
                                              {"MPI_LOCALRANKID", std::to_string(local)},
                                              {"MPI_LOCALNRANKS", std::to_string(ppn)}}
                                    : EnvList{{"OMPI_COMM_WORLD_RANK", std::to_string(rank)},
                                              {"OMPI_COMM_WORLD_SIZE", std::to_string(world)},
                                              {"OMPI_COMM_WORLD_LOCAL_RANK", std::to_string(local)},
                                              {"OMPI_COMM_WORLD_LOCAL_SIZE", std::to_string(ppn)}};
                env.insert(env.end(), {{"RANK", std::to_string(rank)},
                                       {"WORLD_SIZE", std::to_string(world)},
                                       {"LOCAL_RANK", std::to_string(local)},
                                       {"LOCAL_WORLD_SIZE", std::to_string(ppn)},
                                       {"NODE_RANK", std::to_string(node)}});
                if (m_ctx.gpus_per_node > 0) {
                    env.emplace_back("CUDA_VISIBLE_DEVICES", gpu_of(local));
                }
                PlanProcess p =
                    process(fmt::format("rank {}", rank), ProcessRole::rank, node, rank, env);
                p.launch = Launch::by_mpirun;
                m_plan.processes.push_back(std::move(p));
            }
        }
    }

    // MPICH's Hydra: node 0's own ranks forked locally (its hostname is node 0's name), the
    // others' hydra_pmi_proxy started through the agent, which Hydra's ssh launcher runs as
    // `AGENT -x HOST WORD...`. Output lines labelled by rank; the variables listed travel.
    std::vector<std::string> hydra_argv(const EnvList& exported, int world) const {
        std::vector<std::string> argv = {"mpiexec",
                                         "-f",
                                         std::string(container_paths::k_hostfile),
                                         "-n",
                                         std::to_string(world),
                                         "-launcher",
                                         "ssh",
                                         "-launcher-exec",
                                         std::string(container_paths::k_agent),
                                         "-prepend-rank"};
        std::string list;
        for (const auto& [k, v] : exported) {
            list += (list.empty() ? "" : ",") + k;
        }
        argv.insert(argv.end(), {"-genvlist", list});
        return argv;
    }

    std::vector<std::string> openmpi_argv(const EnvList& exported, int world) const {
        std::vector<std::string> argv = {
            "mpirun", "--hostfile", std::string(container_paths::k_hostfile), "-np",
            std::to_string(world), "--bind-to", "none", "--mca", "plm_rsh_agent",
            std::string(container_paths::k_agent), "--mca", "plm_rsh_no_tree_spawn", "1",
            // Each rank's output also kept apart, on its node's
            // logs mount: logs/ranks/1/rank.N/{stdout,stderr}.
            "--output-filename", m_cwd + "/logs/ranks"};
        if (!m_plan.nodes.front().netns.empty()) {
            std::string subnet = m_ctx.subnet_prefix + ".0/24";
            for (const char* mca : {"btl_tcp_if_include", "oob_tcp_if_include"}) {
                argv.insert(argv.end(), {"--mca", mca, subnet});
            }
        }
        // More ranks than the machine has CPUs (several nodes played by one machine): OpenMPI's
        // busy-polling ranks would take the CPU from the rank they wait for, so they yield when
        // idle, as OpenMPI does by itself for a node it knows is oversubscribed. A job's own
        // OMPI_MCA_mpi_yield_when_idle wins.
        const bool job_sets_yield =
            std::any_of(m_job.environment_variables.begin(), m_job.environment_variables.end(),
                        [](const auto& kv) { return kv.first == "OMPI_MCA_mpi_yield_when_idle"; });
        if (m_ctx.host_cpus > 0 && world > m_ctx.host_cpus && !job_sets_yield) {
            argv.insert(argv.end(), {"--mca", "mpi_yield_when_idle", "1"});
        }
        for (const auto& [k, v] : exported) {
            argv.insert(argv.end(), {"-x", k});
        }
        return argv;
    }

    void plan_tensorflow() {
        const int nodes = static_cast<int>(m_plan.nodes.size());
        const int workers = m_job.distribution.worker_count.value_or(nodes);
        const int ps = m_job.distribution.parameter_server_count;
        std::vector<int> next_port(static_cast<size_t>(nodes), k_tf_first_port);
        struct Task {
            std::string type;
            int index, node;
            std::string endpoint;
        };
        std::vector<Task> tasks;
        std::vector<std::string> worker_eps, ps_eps;
        for (int i = 0; i < workers + ps; ++i) {
            bool is_worker = i < workers;
            int node = i % nodes;
            std::string ep = fmt::format("{}:{}", m_plan.nodes[static_cast<size_t>(node)].address,
                                         next_port[static_cast<size_t>(node)]++);
            (is_worker ? worker_eps : ps_eps).push_back(ep);
            tasks.push_back({is_worker ? "worker" : "ps", is_worker ? i : i - workers, node, ep});
        }
        std::vector<int> per_node(static_cast<size_t>(nodes), 0);
        for (const auto& t : tasks) {
            ++per_node[static_cast<size_t>(t.node)];
        }
        check_gpus(*std::max_element(per_node.begin(), per_node.end()));
        std::vector<int> local(static_cast<size_t>(nodes), 0);
        for (const auto& t : tasks) {
            EnvList env;
            if (tasks.size() > 1) {
                env.emplace_back("TF_CONFIG", tf_config(worker_eps, ps_eps, t.type, t.index));
            }
            if (m_ctx.gpus_per_node > 0) {
                env.emplace_back("CUDA_VISIBLE_DEVICES",
                                 gpu_of(local[static_cast<size_t>(t.node)]++));
            }
            bool worker = t.type == "worker";
            PlanProcess p =
                process(fmt::format("{} {}", t.type, t.index),
                        worker ? ProcessRole::worker : ProcessRole::ps, t.node, t.index, env);
            p.must_succeed = worker;
            m_plan.processes.push_back(std::move(p));
        }
    }

    void plan_pytorch() {
        const int ppn = m_job.distribution.process_count_per_instance;
        const int nodes = static_cast<int>(m_plan.nodes.size());
        check_gpus(ppn);
        for (int node = 0; node < nodes; ++node) {
            for (int local = 0; local < ppn; ++local) {
                int rank = node * ppn + local;
                EnvList env = master_env();
                env.insert(env.end(), {{"WORLD_SIZE", std::to_string(nodes * ppn)},
                                       {"RANK", std::to_string(rank)},
                                       {"LOCAL_RANK", std::to_string(local)},
                                       {"NODE_RANK", std::to_string(node)},
                                       {"LOCAL_WORLD_SIZE", std::to_string(ppn)}});
                if (m_ctx.gpus_per_node > 0) {
                    env.emplace_back("CUDA_VISIBLE_DEVICES", gpu_of(local));
                }
                m_plan.processes.push_back(
                    process(fmt::format("rank {}", rank), ProcessRole::rank, node, rank, env));
            }
        }
    }

    // A job of one process on one node is the container's own process; otherwise each container
    // runs envpack-pause and the processes are entered into it.
    void finish_init() {
        std::vector<PlanProcess*> started;
        for (auto& p : m_plan.processes) {
            if (p.launch != Launch::by_mpirun) {
                started.push_back(&p);
            }
        }
        // On envpack.hosts every process is entered through the transport (hosts_backend.h).
        if (m_plan.containers.size() == 1 && started.size() == 1 && m_job.envpack.hosts.empty()) {
            started.front()->launch = Launch::init;
            m_plan.containers.front().init_args = started.front()->argv;
            m_plan.containers.front().env = started.front()->env;
            m_plan.containers.front().init_is_job = true;
            return;
        }
        // An MPI job on this machine's nodes: mpirun is node 0's own process, so no runtime
        // exec is on the job's critical path; the broker enters the other nodes (mpirun's daemons
        // reach them once they are started, broker.h).
        if (m_plan.distribution == DistributionType::mpi && m_job.envpack.hosts.empty() &&
            started.size() == 1 && started.front()->role == ProcessRole::mpirun &&
            started.front()->node == 0) {
            PlanContainer& first = m_plan.containers.front();
            started.front()->launch = Launch::init;
            first.init_args = started.front()->argv;
            first.env = started.front()->env;
            first.init_is_job = true;
        }
        for (auto& c : m_plan.containers) {
            if (c.init_is_job) {
                continue;
            }
            c.mounts.push_back(
                bind_mount(std::string(container_paths::k_pause), m_ctx.pause_path.string(), true));
            c.init_args = {std::string(container_paths::k_pause)};
        }
    }

    const JobSpec& m_job;
    const PlanContext& m_ctx;
    RunPlan m_plan;
    std::string m_cwd;
    std::vector<std::string> m_job_argv;
    EnvList m_base_env;
};

}  // namespace

bool PlanMount::read_only() const {
    return std::find(options.begin(), options.end(), "ro") != options.end();
}

RunPlan make_plan(const JobSpec& job, const PlanContext& context) {
    return Planner(job, context).run();
}

std::string substitute_command(const JobSpec& job) {
    std::string out;
    size_t at = 0;
    for (const auto& ref : command_references(job)) {
        out += job.command.substr(at, ref.begin - at);
        if (ref.kind == CommandReference::Kind::input) {
            out += input_value(*job.find_input(ref.name));
        } else {
            out += output_container_path(*job.find_output(ref.name));
        }
        at = ref.end;
    }
    return out + job.command.substr(at);
}

std::string tf_config(const std::vector<std::string>& workers, const std::vector<std::string>& ps,
                      std::string_view task_type, int task_index) {
    nlohmann::ordered_json cluster;
    cluster["worker"] = workers;
    if (!ps.empty()) {
        cluster["ps"] = ps;
    }
    nlohmann::ordered_json j;
    j["cluster"] = cluster;
    j["task"] = {{"type", task_type}, {"index", task_index}};
    j["environment"] = "cloud";
    return j.dump();
}

}  // namespace envpack
