// Runs a plan whose nodes are `envpack.hosts` (DESIGN.md "Launch model"): every node container
// lives on its host, made there by that host's envpack (`envpack node run`, hosts_node.h) in its
// own ENVPACK_HOME, and every process is entered into it through the job's transport
// (`envpack node exec`). The launching machine keeps the supervisor, the logs and the record.
//
// Order, so that a bad host fails before anything starts anywhere:
//  1. every host is asked which of the image's blobs it holds (`node blobs-have`): a host the
//     transport cannot reach, or without envpack, is an Error (exit 125) naming it;
//  2. each host receives only the blobs it lacks (`node blobs-receive`, verified by digest there),
//     then only the job's local inputs its cache lacks (hosts_inputs.h: read and digested here
//     before step 1, a bad input failing the run with 125 before any host is contacted); the
//     counts are printed and kept in the record's `hosts.json`;
//  3. each host starts its node container (`node run`, spec and code snapshot on its stdin) and
//     answers "ready"; a host that fails stops the ones already started;
//  4. the processes run under the core Supervisor as in the local backend; in MPI jobs node 0's
//     host serves the broker (its `node run` does), which reaches node K's host through the
//     same transport (BrokerTarget::remote_exec), so that host must be able to run it too;
//     a host lost meanwhile (its node run ends) stops every node, and the job fails;
//  5. closing a node run's stdin stops its container (also what happens when this process dies);
//     it answers with a tar of that node's outputs and logs, unpacked into the record: node 0's
//     into outputs/ and logs/, node K's under nodes/NAME/, then merged into outputs/ with the
//     lowest node's copy winning (merge_node_outputs).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/process_log.h"
#include "launcher/job_spec.h"
#include "launcher/plan.h"
#include "launcher/run_record.h"
#include "launcher/transport.h"
#include "registry/store.h"

namespace envpack {

class SignalForwarder;

struct HostsRunOptions {
    Transport transport;
    std::vector<JobHost> hosts;  // hosts[K] runs node K
    const Store* store = nullptr;
    // The launching machine's ENVPACK_HOME: its inputs/digests remembers the digests of the
    // job's local inputs (hosts_inputs.h). Empty: every input is read each run.
    std::filesystem::path home;
    Descriptor manifest;           // the image, in `store`
    std::string runtime = "auto";  // the job's envpack.runtime, chosen on each host
    ConsoleEcho echo = ConsoleEcho::yes;
    std::chrono::milliseconds grace{5000};
    SignalForwarder* signals = nullptr;  // borrowed
    std::function<void()> on_running;
};

struct HostTransfer {
    std::string host;
    int blobs_sent = 0;
    std::uint64_t bytes_sent = 0;
    int blobs_present = 0;
    // The job's local inputs (hosts_inputs.h): sent, their tar bytes, already in the host's cache.
    int inputs_sent = 0;
    std::uint64_t input_bytes_sent = 0;
    int inputs_present = 0;
};

struct HostsRunOutcome {
    int exit_code = 0;
    std::string reason;  // succeeded, failed, timeout, signal
    std::string message;
    std::vector<HostTransfer> transfers;
    std::vector<std::string> conflicts;  // merge_node_outputs
};

// `envpack ARGS` on `host`: [env ENVPACK_HOME=HOME] PROGRAM ARGS, through the transport. Pure.
std::vector<std::string> remote_envpack(const Transport& transport, const JobHost& host,
                                        const std::vector<std::string>& args);

// Copies node K's outputs (record/nodes/NAME/outputs, K = 1, 2, ...) into record/outputs where
// no lower node wrote the same path. Returns one line per path more than one node wrote:
// "outputs/REL: kept NODE's copy, also written by NODE2[, ...]".
std::vector<std::string> merge_node_outputs(const std::filesystem::path& record_dir,
                                            const std::vector<std::string>& node_names);

HostsRunOutcome run_hosts(const RunPlan& plan, const RunRecord& record,
                          const HostsRunOptions& options);

}  // namespace envpack
