#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "core/error.h"
#include "golden.h"
#include "launcher/plan.h"

using namespace envpack;
using envpack::test::check_golden;
using envpack::test::launcher_test_dir;

namespace {

JobSpec job(const std::string& name, const std::vector<std::string>& sets = {}) {
    auto path = launcher_test_dir() / "jobs" / (name + ".yml");
    yaml::Document doc = yaml::Document::parse(test::read_text(path), "jobs/" + name + ".yml");
    for (const auto& s : sets) {
        doc.apply_override(s);
    }
    JobSpec spec = JobSpec::parse(doc);
    spec.base_dir = "/home/user/project";  // as the CLI makes it: absolute
    return spec;
}

PlanContext context() {
    PlanContext c;
    c.run_id = "r1";
    c.image = "demo/env:1";
    c.image_digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    c.image_config.env = {"PATH=/opt/conda/bin:/usr/bin:/bin", "CONDA_PREFIX=/opt/conda"};
    c.image_config.working_dir = "/opt";
    c.snapshot_digest = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    c.run_dir = "/var/envpack/runs/r1";
    c.code_dir = "/var/envpack/runs/r1/code";
    c.pause_path = "/usr/lib/envpack/envpack-pause";
    c.agent_path = "/usr/lib/envpack/envpack-agent";
    return c;
}

const PlanProcess& find(const RunPlan& plan, const std::string& label) {
    for (const auto& p : plan.processes) {
        if (p.label == label) {
            return p;
        }
    }
    FAIL("no process " << label);
    throw;
}

std::string env_of(const PlanProcess& p, const std::string& key) {
    for (const auto& [k, v] : p.env) {
        if (k == key) {
            return v;
        }
    }
    return "<unset>";
}

}  // namespace

TEST_CASE("plan: golden files for single, mpi 2x2, tensorflow 2w+1ps, pytorch 2x2", "[plan]") {
    for (const char* name : {"single", "mpi_2x2", "tensorflow_2w1ps", "pytorch_2x2"}) {
        INFO(name);
        RunPlan plan = make_plan(job(name), context());
        check_golden(std::string("plan_") + name + ".txt", format_plan(plan));
    }
    check_golden("plan_mpi_2x2.json",
                 plan_to_json(make_plan(job("mpi_2x2"), context())).dump(2) + "\n");
}

TEST_CASE("plan: a single process is the container's own process", "[plan]") {
    RunPlan plan = make_plan(job("single"), context());
    REQUIRE(plan.containers.size() == 1);
    REQUIRE(plan.processes.size() == 1);
    CHECK(plan.processes[0].launch == Launch::init);
    CHECK(plan.containers[0].init_is_job);
    CHECK(plan.processes[0].argv ==
          std::vector<std::string>{"/bin/sh", "-c",
                                   "python train.py --data /mnt/inputs/digits --epochs 2 --model "
                                   "/mnt/outputs/model"});
    // Image Env, then the job's variables (PATH replaced in place), then envpack's.
    CHECK(env_of(plan.processes[0], "PATH") == "/job/bin");
    CHECK(plan.processes[0].env.front().first == "PATH");
    CHECK(env_of(plan.processes[0], "AZURE_ML_INPUT_url") == "https://example.org/mnist/");
    CHECK(env_of(plan.processes[0], "AZURE_ML_INPUT_csv") == "/mnt/inputs/csv/iris.csv");
    CHECK(plan.containers[0].shm_bytes == 1ull << 30);
    CHECK(plan.containers[0].cwd == "/workspace");
}

TEST_CASE("plan: mpi wiring", "[plan]") {
    RunPlan plan = make_plan(job("mpi_2x2"), context());
    CHECK(plan.hostfile == "node0 slots=2\nnode1 slots=2\n");
    const PlanProcess& mpirun = find(plan, "mpirun");
    CHECK(mpirun.node == 0);
    // mpirun is node 0's own process (no runtime exec on the critical path); node 1 runs
    // envpack-pause for the broker to enter.
    CHECK(mpirun.launch == Launch::init);
    CHECK(plan.containers[0].init_is_job);
    CHECK(plan.containers[0].init_args == mpirun.argv);
    CHECK_FALSE(plan.containers[1].init_is_job);
    const PlanProcess& r3 = find(plan, "rank 3");
    CHECK(r3.node == 1);
    CHECK(r3.launch == Launch::by_mpirun);
    CHECK(env_of(r3, "NODE_RANK") == "1");
    CHECK(env_of(r3, "LOCAL_RANK") == "1");
    CHECK(env_of(r3, "AZ_BATCH_MASTER_NODE") == "10.88.0.2:6105");
    CHECK(plan.nodes[1].netns == "/run/netns/envpack-r1-1");
    CHECK(plan.containers[1].init_args == std::vector<std::string>{"/.envpack/bin/envpack-pause"});
}

TEST_CASE("plan: mpi ranks run through the rank wrapper, which records failures per node",
          "[plan]") {
    PlanContext ctx = context();
    ctx.gpus_per_node = 2;
    RunPlan plan = make_plan(job("mpi_2x2"), ctx);
    const PlanProcess& mpirun = find(plan, "mpirun");
    auto at = std::find(mpirun.argv.begin(), mpirun.argv.end(), "--rank");
    REQUIRE(at != mpirun.argv.begin());
    REQUIRE(mpirun.argv.end() - at > 7);
    CHECK(std::vector<std::string>(at - 1, at + 7) ==
          std::vector<std::string>{"/.envpack/bin/envpack-agent", "--rank", "--exits",
                                   "/.envpack/exits", "--gpus", "2", "--", "/bin/sh"});
    // Each node's exits directory is under its own logs, so it comes back with them.
    std::vector<std::string> sources;
    for (const auto& c : plan.containers) {
        for (const auto& m : c.mounts) {
            if (m.destination == "/.envpack/exits") {
                CHECK_FALSE(m.read_only());
                CHECK(m.make_source);
                sources.push_back(m.source);
            }
        }
    }
    CHECK(sources == std::vector<std::string>{"/var/envpack/runs/r1/logs/exits",
                                              "/var/envpack/runs/r1/nodes/node1/logs/exits"});
    // Other distributions have no rank wrapper and no exits directory.
    RunPlan pt = make_plan(job("pytorch_2x2"), context());
    for (const auto& c : pt.containers) {
        for (const auto& m : c.mounts) {
            CHECK(m.destination != "/.envpack/exits");
        }
    }
}

TEST_CASE("plan: ranks beyond the machine's CPUs yield when idle", "[plan]") {
    auto yields = [](const RunPlan& plan) {
        const auto& argv = find(plan, "mpirun").argv;
        for (size_t i = 0; i + 2 < argv.size(); ++i) {
            if (argv[i] == "--mca" && argv[i + 1] == "mpi_yield_when_idle") {
                return argv[i + 2] == "1";
            }
        }
        return false;
    };
    PlanContext ctx = context();
    CHECK_FALSE(yields(make_plan(job("mpi_2x2"), ctx)));  // unknown: several hosts
    ctx.host_cpus = 4;
    CHECK_FALSE(yields(make_plan(job("mpi_2x2"), ctx)));  // 4 ranks, 4 CPUs
    ctx.host_cpus = 2;
    CHECK(yields(make_plan(job("mpi_2x2"), ctx)));
    // The job's own setting wins.
    CHECK_FALSE(yields(
        make_plan(job("mpi_2x2", {"environment_variables.OMPI_MCA_mpi_yield_when_idle=0"}), ctx)));
}

TEST_CASE("plan: tensorflow tasks, ports and TF_CONFIG", "[plan]") {
    RunPlan plan = make_plan(job("tensorflow_2w1ps"), context());
    REQUIRE(plan.processes.size() == 3);
    const PlanProcess& ps = find(plan, "ps 0");
    CHECK(ps.node == 0);
    CHECK(!ps.must_succeed);
    CHECK(env_of(ps, "TF_CONFIG") ==
          R"({"cluster":{"worker":["10.77.0.11:2222","10.77.0.12:2222"],"ps":["10.77.0.11:2223"]},)"
          R"("task":{"type":"ps","index":0},"environment":"cloud"})");
    CHECK(find(plan, "worker 1").node == 1);
    // One task: no TF_CONFIG.
    RunPlan one = make_plan(job("tensorflow_2w1ps", {"distribution.worker_count=1",
                                                     "distribution.parameter_server_count=0",
                                                     "resources.instance_count=1"}),
                            context());
    REQUIRE(one.processes.size() == 1);
    CHECK(env_of(one.processes[0], "TF_CONFIG") == "<unset>");
}

TEST_CASE("plan: pytorch ranks and GPUs", "[plan]") {
    PlanContext c = context();
    c.gpus_per_node = 2;
    RunPlan plan = make_plan(job("pytorch_2x2"), c);
    const PlanProcess& r2 = find(plan, "rank 2");
    CHECK(env_of(r2, "RANK") == "2");
    CHECK(env_of(r2, "WORLD_SIZE") == "4");
    CHECK(env_of(r2, "NODE_RANK") == "1");
    CHECK(env_of(r2, "LOCAL_RANK") == "0");
    CHECK(env_of(r2, "MASTER_ADDR") == "10.88.0.2");
    CHECK(env_of(r2, "MASTER_PORT") == "6105");
    CHECK(env_of(r2, "CUDA_VISIBLE_DEVICES") == "0");
    // More processes than GPUs is an error located at `distribution`, unless shared.
    c.gpus_per_node = 1;
    try {
        (void)make_plan(job("pytorch_2x2"), c);
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("jobs/pytorch_2x2.yml:4:15: 2 processes per node but "
                                             "the nodes have 1 GPUs"));
    }
    RunPlan shared = make_plan(job("pytorch_2x2", {"envpack.gpu_sharing=true"}), c);
    CHECK(env_of(find(shared, "rank 1"), "CUDA_VISIBLE_DEVICES") == "0");
}

TEST_CASE("plan: --set resources.instance_count and distribution.type reshape the plan", "[plan]") {
    RunPlan plan = make_plan(job("mpi_2x2", {"resources.instance_count=4"}), context());
    CHECK(plan.nodes.size() == 4);
    CHECK(plan.hostfile.find("node3 slots=2") != std::string::npos);
    RunPlan pt = make_plan(job("mpi_2x2", {"distribution.type=pytorch"}), context());
    CHECK(pt.processes.size() == 4);
    CHECK(pt.processes[0].launch == Launch::exec);
}

TEST_CASE("plan: mpi on an MPICH image runs Hydra's mpiexec through the agent", "[plan]") {
    PlanContext ctx = context();
    ctx.mpi = MpiFlavor::mpich;
    ctx.host_cpus = 2;  // no OpenMPI-only yield option either
    RunPlan plan = make_plan(job("mpi_2x2"), ctx);
    check_golden("plan_mpi_2x2_mpich.txt", format_plan(plan));
    CHECK(plan.hostfile == "node0:2\nnode1:2\n");
    const PlanProcess& launcher = find(plan, "mpirun");
    const std::vector<std::string> head(launcher.argv.begin(), launcher.argv.begin() + 12);
    CHECK(head == std::vector<std::string>{
                      "mpiexec", "-f", "/.envpack/hostfile", "-n", "4", "-launcher", "ssh",
                      "-launcher-exec", "/.envpack/bin/envpack-agent", "-prepend-rank", "-genvlist",
                      "MASTER_ADDR,MASTER_PORT,PYTHONPATH,"
                      "AZ_BATCH_MASTER_NODE,AZ_BATCHAI_MPI_MASTER_NODE,"
                      "ENVPACK_RUN_ID"});
    // Each rank runs through the rank wrapper (rank_wrapper.c), which records a failure.
    const std::vector<std::string> wrapper(launcher.argv.begin() + 12, launcher.argv.begin() + 17);
    CHECK(wrapper == std::vector<std::string>{"/.envpack/bin/envpack-agent", "--rank", "--exits",
                                              "/.envpack/exits", "--"});
    CHECK(launcher.argv[17] == "/bin/sh");
    for (const auto& word : launcher.argv) {
        CHECK(word != "--mca");
        CHECK(word != "-x");
    }
    CHECK(env_of(launcher, "OMPI_ALLOW_RUN_AS_ROOT") == "<unset>");
    const PlanProcess& r3 = find(plan, "rank 3");
    CHECK(env_of(r3, "PMI_RANK") == "3");
    CHECK(env_of(r3, "PMI_SIZE") == "4");
    CHECK(env_of(r3, "MPI_LOCALRANKID") == "1");
    CHECK(env_of(r3, "MPI_LOCALNRANKS") == "2");
    CHECK(env_of(r3, "NODE_RANK") == "1");
    CHECK(env_of(r3, "OMPI_COMM_WORLD_RANK") == "<unset>");
    // The agent is in every node container (Hydra's proxies on node K are started from node 0).
    for (const auto& c : plan.containers) {
        bool agent = false;
        for (const auto& m : c.mounts) {
            agent = agent || m.destination == "/.envpack/bin/envpack-agent";
        }
        CHECK(agent);
    }
}

TEST_CASE("plan: an mpi job on one node mounts no broker (none runs)", "[plan]") {
    for (MpiFlavor flavor : {MpiFlavor::openmpi, MpiFlavor::mpich}) {
        PlanContext ctx = context();
        ctx.mpi = flavor;
        RunPlan plan = make_plan(job("mpi_2x2", {"resources.instance_count=1"}), ctx);
        REQUIRE(plan.containers.size() == 1);
        bool hostfile = false;
        for (const auto& m : plan.containers[0].mounts) {
            CHECK(m.destination != "/.envpack/broker");
            hostfile = hostfile || m.destination == "/.envpack/hostfile";
        }
        CHECK(hostfile);
    }
}
