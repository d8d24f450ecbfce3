// Runs a plan on this machine: for each node container a writable rootfs over the unpacked image,
// the mounts' host sides, /etc/hosts and config.json; then the containers, and the job's
// processes entered into them (or the single process as the container's own), with their output
// streamed line by line into the record's logs (and the console, prefixed when there are
// several). A Supervisor applies the policy: one failure, the timeout, or SIGINT/SIGTERM stops
// every container (runtime kill, then the process trees). Whatever happens, every container is
// deleted, every rootfs unmounted and removed, and leftover processes killed before `run_local`
// returns.
//
// Exit codes (DESIGN.md): the job's; 124 on limits.timeout; 128+N when a signal N stopped it.
// Before anything starts: 127 when a process's program is not in the image, 126 when it is not
// executable there (Error with that code), 125 for envpack's own failures.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "core/process_log.h"
#include "core/process_runner.h"
#include "core/supervisor.h"
#include "launcher/oci_config.h"
#include "launcher/plan.h"
#include "launcher/rootfs.h"
#include "launcher/run_record.h"
#include "launcher/runtime.h"

namespace envpack {

class SignalForwarder;

struct LocalRunOptions {
    Runtime runtime;
    std::filesystem::path image_rootfs;  // the unpacked image (read-only lower layer)
    RootfsMode rootfs_mode = RootfsMode::automatic;
    ConsoleEcho echo = ConsoleEcho::yes;
    std::chrono::milliseconds grace{5000};  // SIGTERM to SIGKILL when stopping
    // Receives the signals that stop the job (borrowed; nullptr: none are caught).
    SignalForwarder* signals = nullptr;
    // Called once the containers run (the record's phase becomes `running`).
    std::function<void()> on_running;
    // Called once, in the teardown, as soon as every container is removed and before the root
    // filesystems are released: what only the containers used (their network) can go then.
    std::function<void()> on_containers_removed;
};

struct LocalRunOutcome {
    int exit_code = 0;
    std::string reason;   // succeeded, failed, timeout, signal
    std::string message;  // the supervisor's summary
    std::string rootfs;   // overlay | copy
};

// The log file stem of a process label ("rank 0" -> "rank-0").
std::string log_name(std::string_view label);

// What the supervisor runs for plan process `p` (the local and the hosts backend alike): `argv`,
// its output lines into `logs` (labelled on the console when the plan has several processes),
// stderr merged into stdout; a task when it must succeed, else a service.
ProcessSpec process_spec(const RunPlan& plan, const PlanProcess& p, std::vector<std::string> argv,
                         ProcessLogs& logs);

// The supervisor's options for `plan` (both backends): `grace` from SIGTERM to SIGKILL, the plan's
// `limits.timeout`; the caller sets on_stop.
SupervisorOptions supervisor_options(const RunPlan& plan, std::chrono::milliseconds grace);

// Makes the host side of container `c`'s mounts: output and log directories, copies of `download`
// inputs. A bind source that does not exist is an Error (run_failed) with `missing_hint`.
void prepare_mounts(const PlanContainer& c, std::string_view missing_hint);
// The OCI options of this host: RLIMIT_NOFILE no higher than this process may raise it to.
OciOptions host_oci_options();

// The word a run record keeps for how a job ended: succeeded, failed, timeout, signal.
std::string_view end_reason(JobEnd end);
// The run's exit code: the supervisor's, or run_timeout when the job timed out.
int end_exit_code(const JobResult& result);

// Checks that every process envpack starts can run in its container's rootfs; throws Error
// with exit code 127 or 126 naming the program and the image path searched.
void check_plan_commands(const RunPlan& plan, const std::filesystem::path& rootfs);

LocalRunOutcome run_local(const RunPlan& plan, const RunRecord& record,
                          const LocalRunOptions& options);

}  // namespace envpack
