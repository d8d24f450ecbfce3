#include "cli/run_job.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <system_error>

#include <fmt/format.h>

#include "builder/snapshot.h"
#include "builder/unpack_cache.h"
#include "cli/job_image.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/process_tree.h"
#include "core/signals.h"
#include "launcher/hosts_backend.h"
#include "launcher/local_backend.h"
#include "launcher/mpi_flavor.h"
#include "launcher/netns.h"
#include "launcher/plan.h"
#include "launcher/run_record.h"
#include "launcher/runtime.h"
#include "launcher/transport.h"
#include "registry/reference.h"
#include "registry/store.h"

namespace envpack::cli {
namespace {

namespace fs = std::filesystem;

// The snapshot's files, copied into the record (the job's working directory).
void copy_snapshot(const Snapshot& snapshot, const fs::path& dest) {
    make_dirs(dest);
    for (const auto& e : snapshot.listing.entries) {
        fs::path to = dest / e.path;
        fs::path from = snapshot.listing.root / e.path;
        switch (e.type) {
            case SnapshotEntryType::directory:
                make_dirs(to);
                break;
            case SnapshotEntryType::symlink:
                fs::create_symlink(e.link_target, to);
                break;
            case SnapshotEntryType::file:
                fs::copy_file(from, to, fs::copy_options::overwrite_existing);
                fs::permissions(to, e.executable ? fs::perms(0755) : fs::perms(0644));
                break;
        }
    }
}

// --detach: the caller prints the ID and returns; the grandchild (own session, stdio on
// /dev/null and the record's supervisor.log) carries on. Returns true in the grandchild.
bool detach_supervisor(const RunRecord& record) {
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t child = ::fork();
    if (child < 0) {
        throw_errno("fork", "the run supervisor", errno);
    }
    if (child > 0) {
        int status = 0;
        while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
        }
        return false;
    }
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild != 0) {
        ::_exit(grandchild < 0 ? 1 : 0);
    }
    int null_fd = ::open("/dev/null", O_RDWR);
    int log_fd = ::open((record.dir() / "supervisor.log").c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ::dup2(null_fd, 0);
    ::dup2(log_fd >= 0 ? log_fd : null_fd, 1);
    ::dup2(log_fd >= 0 ? log_fd : null_fd, 2);
    return true;
}

void finish(const RunRecord& record, RunStatus& status, int code, std::string reason,
            std::string message) {
    status.phase = RunPhase::finished;
    status.finished_at = now_rfc3339();
    status.exit_code = code;
    if (fs::exists(record.cancel_marker())) {
        reason = "cancelled";
    }
    status.reason = std::move(reason);
    status.message = std::move(message);
    record.write_status(status);
    record.chown_to_invoker();
}

int run_attached(Context& ctx, const JobSpec& job, const RunRecord& record, RunStatus& status,
                 ConsoleEcho echo) {
    Runtime runtime = select_runtime(runtime_choice_from(job.envpack.runtime), probe_host_facts());
    if (::geteuid() != 0) {
        throw Error("envpack run needs root here (containers, overlayfs mounts)",
                    "run it with sudo; the record is then handed to you (SUDO_UID)",
                    ExitCode::run_failed);
    }
    // Single-threaded still: the mount namespace can be unshared.
    enter_private_mount_namespace(runtime);
    become_subreaper();
    SignalForwarder signals;
    status.runtime = to_string(runtime.kind);

    Store store(ctx.store_dir());
    const JobImage image = ensure_job_image(ctx, job, store);
    const std::string& name = image.name;
    const Descriptor* desc = &image.manifest;
    if (!image.origin.empty() && ctx.log.level() != LogLevel::quiet) {
        std::fprintf(stderr, "envpack: run %s: image %s (%s)\n", record.id().c_str(), name.c_str(),
                     image.origin.c_str());
    }
    PlanContext pc;
    pc.run_id = record.id();
    pc.run_dir = record.dir();
    pc.image = name;
    pc.image_digest = desc->digest.to_string();
    pc.image_config = store.read_config(store.read_manifest(*desc));
    status.image = name;
    status.image_digest = pc.image_digest;
    UnpackedImage unpacked = ensure_unpacked(store, *desc, ctx.home, ctx.log);
    if (job.distribution.type == DistributionType::mpi) {
        // The image's MPI decides the launcher (mpi_flavor.h). An image with none keeps
        // OpenMPI's `mpirun`, refused below as a command not in the image (127).
        std::string path_var;
        for (const auto& e : pc.image_config.env) {
            if (e.starts_with("PATH=")) {
                path_var = e.substr(5);
            }
        }
        pc.mpi = detect_mpi_flavor(unpacked.rootfs(), path_var).value_or(MpiFlavor::openmpi);
    }
    if (!job.code.empty()) {
        Snapshot snapshot = make_snapshot(job.base_dir / job.code, ctx.log, SnapshotOptions{});
        pc.snapshot_digest = snapshot.digest.to_string();
        pc.code_dir = record.dir() / "code";
        copy_snapshot(snapshot, pc.code_dir);
        status.snapshot_digest = pc.snapshot_digest;
    }
    pc.pause_path = self_dir() / "envpack-pause";
    pc.agent_path = self_dir() / "envpack-agent";
    // Several nodes on this machine: one network namespace each, removed when the run ends.
    // (Nodes on envpack.hosts use their hosts' networks: none is made.)
    std::optional<RunNetwork> network = prepare_node_network(job, record.id(), pc);
    RunPlan plan = make_plan(job, pc);
    write_file_atomic(record.dir() / "plan.json", plan_to_json(plan).dump(2) + "\n",
                      Durability::none);
    for (const auto& c : plan.containers) {
        status.containers.push_back(c.id);
    }
    for (const auto& p : plan.processes) {
        if (p.launch != Launch::by_mpirun) {
            status.processes.push_back(log_name(p.label));
        }
    }
    record.write_status(status);

    std::vector<std::string> node_names;
    for (const auto& n : plan.nodes) {
        node_names.push_back(n.name);
    }
    // The record's phase becomes `running` once the containers run (either backend).
    auto mark_running = [&] {
        status.phase = RunPhase::running;
        status.started_at = now_rfc3339();
        record.write_status(status);
    };
    if (!job.envpack.hosts.empty()) {
        // The image is checked here, before any host is contacted (127/126).
        check_plan_commands(plan, unpacked.rootfs());
        HostsRunOptions ho;
        ho.transport = Transport::parse(job.envpack.remote_exec);
        ho.hosts = job.envpack.hosts;
        ho.store = &store;
        ho.home = ctx.home;
        ho.manifest = *desc;
        ho.runtime = job.envpack.runtime;
        ho.echo = echo;
        ho.signals = &signals;
        ho.on_running = mark_running;
        HostsRunOutcome outcome = run_hosts(plan, record, ho);
        status.output_conflicts = outcome.conflicts;
        finish(record, status, outcome.exit_code, outcome.reason, outcome.message);
        if (outcome.exit_code != 0) {
            ctx.log.warnf("run {}: {}", record.id(), outcome.message);
        }
        return outcome.exit_code;
    }

    LocalRunOptions options;
    options.runtime = runtime;
    options.image_rootfs = unpacked.rootfs();
    options.echo = echo;
    options.signals = &signals;
    options.on_running = mark_running;
    // The node network goes while the root filesystems are released (both take tens of ms).
    std::future<void> network_gone;
    options.on_containers_removed = [&] {
        if (network) {
            network_gone = std::async(std::launch::async, [&] { network->release(); });
        }
    };
    LocalRunOutcome outcome = run_local(plan, record, options);
    if (network_gone.valid()) {
        network_gone.get();
    }
    status.rootfs = outcome.rootfs;
    if (node_names.size() > 1) {
        status.output_conflicts = merge_node_outputs(record.dir(), node_names);
    }
    finish(record, status, outcome.exit_code, outcome.reason, outcome.message);
    if (outcome.exit_code != 0) {
        ctx.log.warnf("run {}: {}", record.id(), outcome.message);
    }
    return outcome.exit_code;
}

}  // namespace

fs::path self_dir() {
    std::error_code ec;
    auto exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path(".") : exe.parent_path();
}

std::optional<std::string> image_reference(const JobSpec& job) {
    switch (job.environment.kind) {
        case JobEnvironment::Kind::image:
            return job.environment.image;
        case JobEnvironment::Kind::azureml:
            return job.environment.azureml_image();
        case JobEnvironment::Kind::recipe:
        case JobEnvironment::Kind::conda:
            break;
    }
    return std::nullopt;
}

int run_job(Context& ctx, const JobSpec& job, Detach detach) {
    RunRecord record = RunRecord::create(ctx.home);
    RunStatus status;
    status.id = record.id();
    status.name = !job.display_name.empty() ? job.display_name : job.name;
    status.created_at = now_rfc3339();
    status.image = job.environment.image;
    status.detached = detach == Detach::yes;
    write_file_atomic(record.job_file(), job.to_string(), Durability::none);
    status.supervisor_pid = ::getpid();
    status.supervisor_start = process_start_time(::getpid());
    record.write_status(status);

    if (detach == Detach::yes) {
        if (!detach_supervisor(record)) {
            std::printf("%s\n", record.id().c_str());
            std::fflush(stdout);
            return 0;
        }
        status.supervisor_pid = ::getpid();
        status.supervisor_start = process_start_time(::getpid());
        record.write_status(status);
    } else {
        std::fprintf(stderr, "run %s (record: %s)\n", record.id().c_str(), record.dir().c_str());
    }
    ConsoleEcho echo = detach == Detach::yes ? ConsoleEcho::no : ConsoleEcho::yes;
    try {
        int code = run_attached(ctx, job, record, status, echo);
        if (detach == Detach::yes) {
            std::fflush(nullptr);
            ::_exit(code);
        }
        return code;
    } catch (const Error& e) {
        ExitCode code =
            e.code() == ExitCode::command_not_found || e.code() == ExitCode::command_not_runnable
                ? e.code()
                : ExitCode::run_failed;
        finish(record, status, static_cast<int>(code), "error", e.what());
        if (detach == Detach::yes) {
            std::fprintf(stderr, "error: %s\n", e.what());
            std::fflush(nullptr);
            ::_exit(static_cast<int>(code));
        }
        throw e.with_exit_code(code);
    } catch (const std::exception& e) {
        finish(record, status, static_cast<int>(ExitCode::run_failed), "error", e.what());
        if (detach == Detach::yes) {
            ::_exit(static_cast<int>(ExitCode::run_failed));
        }
        throw Error(e.what(), "", ExitCode::run_failed);
    }
}

}  // namespace envpack::cli
