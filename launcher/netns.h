// One network namespace per node for a run whose nodes all live on this machine (no
// `envpack.hosts`, instance_count > 1, root): a private bridge on the host, a veth pair per node
// (the host end on the bridge, `eth0` inside the namespace), `lo` up, and the addresses the plan
// uses as node addresses (PREFIX.2, PREFIX.3, ...; the bridge is PREFIX.1).
//
// Names and the /24 are derived from the run ID (`net_names`, pure): unique across concurrent
// runs, and short enough for IFNAMSIZ. A run holds an flock on `/run/envpack/net/BRIDGE.lock`
// while its network exists; `sweep_dead_networks` removes the namespaces and bridge of every
// lock file nobody holds (a run killed with SIGKILL). `RunNetwork` removes everything it made on
// destruction, and on `release()`.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace envpack {

// The names and subnet of one run's network (pure: a function of the run ID and an attempt
// number; a later attempt gives another subnet when the first is taken on this host).
struct NetNames {
    std::string bridge;                   // "epb" + 8 hex: the host bridge
    std::vector<std::string> veths;       // host ends, "epv" + 8 hex + node index
    std::vector<std::string> namespaces;  // "envpack-RUNID-N" (under /run/netns)
    std::string subnet_prefix;            // "10.A.B": nodes .2, .3, ...; bridge .1
    std::string subnet() const { return subnet_prefix + ".0/24"; }
    std::string node_address(int node) const;
    std::string netns_path(int node) const;  // /run/netns/NAME
};

NetNames net_names(std::string_view run_id, int nodes, int attempt = 0);

// The `ip` command lines that make (and remove) a network (pure, golden-testable).
std::vector<std::vector<std::string>> net_setup_commands(const NetNames& names);
std::vector<std::vector<std::string>> net_teardown_commands(const NetNames& names);

// Where the lock files of live networks are kept.
inline constexpr std::string_view k_net_lock_dir = "/run/envpack/net";

// A run's network on this host. Requires root.
class RunNetwork {
  public:
    // Sweeps dead runs' networks, picks a subnet no host interface uses, and makes the bridge,
    // namespaces and veth pairs. Throws Error (exit 125) naming the failing `ip` command; what
    // was made before the failure is removed.
    static RunNetwork create(std::string_view run_id, int nodes);

    RunNetwork(RunNetwork&&) noexcept;
    RunNetwork& operator=(RunNetwork&&) = delete;
    RunNetwork(const RunNetwork&) = delete;
    ~RunNetwork();

    const NetNames& names() const { return m_names; }
    // Removes namespaces, veths and bridge (best effort, idempotent).
    void release();

  private:
    RunNetwork(NetNames names, int lock_fd);
    NetNames m_names;
    int m_lock_fd = -1;
};

// Removes the networks of runs that no longer hold their lock. Returns how many it removed.
int sweep_dead_networks();

struct JobSpec;
struct PlanContext;

// The node network of a run, before its plan is made: nullopt for a job on one node; for
// several nodes without `envpack.hosts`, as root, a RunNetwork whose subnet and interface
// (`eth0`) are written into `context` (NodeNetwork::namespaces); without root,
// NodeNetwork::host. Jobs with `envpack.hosts`: nullopt (each node uses its host's network).
std::optional<RunNetwork> prepare_node_network(const JobSpec& job, std::string_view run_id,
                                               PlanContext& context);

}  // namespace envpack
