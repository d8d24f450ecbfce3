#include "launcher/netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <sstream>

#include <thread>

#include <fmt/format.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"
#include "launcher/job_spec.h"
#include "launcher/plan.h"

namespace envpack {

namespace fs = std::filesystem;

std::string NetNames::node_address(int node) const {
    return fmt::format("{}.{}", subnet_prefix, node + 2);
}

std::string NetNames::netns_path(int node) const {
    return "/run/netns/" + namespaces.at(static_cast<size_t>(node));
}

NetNames net_names(std::string_view run_id, int nodes, int attempt) {
    Sha256 h;
    h.update(run_id);
    std::string hex = h.finish().hex();
    Sha256 s;
    s.update(fmt::format("{}/{}", run_id, attempt));
    std::string shex = s.finish().hex();
    unsigned a = static_cast<unsigned>(std::stoul(shex.substr(0, 2), nullptr, 16));
    unsigned b = static_cast<unsigned>(std::stoul(shex.substr(2, 2), nullptr, 16));
    NetNames n;
    n.bridge = "epb" + hex.substr(0, 8);
    n.subnet_prefix = fmt::format("10.{}.{}", 64 + a % 64, b);
    for (int i = 0; i < nodes; ++i) {
        n.veths.push_back(fmt::format("epv{}{}", hex.substr(0, 8), i));
        n.namespaces.push_back(fmt::format("envpack-{}-{}", run_id, i));
    }
    return n;
}

std::vector<std::vector<std::string>> net_setup_commands(const NetNames& n) {
    std::vector<std::vector<std::string>> cmds;
    cmds.push_back({"ip", "link", "add", n.bridge, "type", "bridge"});
    cmds.push_back({"ip", "addr", "add", n.subnet_prefix + ".1/24", "dev", n.bridge});
    cmds.push_back({"ip", "link", "set", n.bridge, "up"});
    for (size_t i = 0; i < n.namespaces.size(); ++i) {
        const auto& ns = n.namespaces[i];
        const auto& veth = n.veths[i];
        cmds.push_back({"ip", "netns", "add", ns});
        cmds.push_back(
            {"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns});
        cmds.push_back({"ip", "link", "set", veth, "master", n.bridge, "up"});
        cmds.push_back({"ip", "-n", ns, "addr", "add", n.node_address(static_cast<int>(i)) + "/24",
                        "dev", "eth0"});
        cmds.push_back({"ip", "-n", ns, "link", "set", "eth0", "up"});
        cmds.push_back({"ip", "-n", ns, "link", "set", "lo", "up"});
    }
    return cmds;
}

std::vector<std::vector<std::string>> net_teardown_commands(const NetNames& n) {
    std::vector<std::vector<std::string>> cmds;
    // Deleting a namespace deletes its eth0 and so the host end of the pair.
    for (const auto& ns : n.namespaces) {
        cmds.push_back({"ip", "netns", "delete", ns});
    }
    for (const auto& veth : n.veths) {
        cmds.push_back({"ip", "link", "delete", veth});
    }
    cmds.push_back({"ip", "link", "delete", n.bridge});
    return cmds;
}

namespace {

std::string join(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        out += (out.empty() ? "" : " ") + a;
    }
    return out;
}

// Runs the teardown in one `ip -force -batch` (a process per command cost tens of ms each);
// what is already gone is skipped or, gone meanwhile, not an error. Also removes the lock file.
void remove_network(const NetNames& n) {
    std::string lines;
    for (const auto& cmd : net_teardown_commands(n)) {
        const bool exists = cmd[1] == "netns" ? fs::exists("/run/netns/" + cmd.back())
                                              : fs::exists("/sys/class/net/" + cmd.back());
        if (exists) {
            lines += join(std::vector<std::string>(cmd.begin() + 1, cmd.end())) + "\n";
        }
    }
    if (!lines.empty()) {
        ProcessOptions o;
        o.stdin_data = lines;
        (void)run_process({"ip", "-force", "-batch", "-"}, o);
    }
    std::error_code ec;
    fs::remove(fs::path(k_net_lock_dir) / (n.bridge + ".lock"), ec);
}

std::string lock_text(const NetNames& n) {
    std::string out = fmt::format("bridge {}\nsubnet {}\n", n.bridge, n.subnet_prefix);
    for (size_t i = 0; i < n.namespaces.size(); ++i) {
        out += fmt::format("node {} {}\n", n.namespaces[i], n.veths[i]);
    }
    return out;
}

NetNames parse_lock_text(const std::string& text) {
    NetNames n;
    std::istringstream in(text);
    std::string key;
    while (in >> key) {
        if (key == "bridge") {
            in >> n.bridge;
        } else if (key == "subnet") {
            in >> n.subnet_prefix;
        } else if (key == "node") {
            std::string ns, veth;
            in >> ns >> veth;
            n.namespaces.push_back(ns);
            n.veths.push_back(veth);
        }
    }
    return n;
}

// Whether an IPv4 address or a route of this host already lies in PREFIX.0/24 (PREFIX "A.B.C").
// Read from getifaddrs and /proc/net/route: asking `ip` cost two processes per run.
bool subnet_in_use(const std::string& prefix) {
    auto in_prefix = [&](std::uint32_t host_order) {
        return fmt::format("{}.{}.{}", host_order >> 24, (host_order >> 16) & 0xff,
                           (host_order >> 8) & 0xff) == prefix;
    };
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) == 0) {
        bool used = false;
        for (ifaddrs* a = list; a != nullptr && !used; a = a->ifa_next) {
            if (a->ifa_addr != nullptr && a->ifa_addr->sa_family == AF_INET) {
                const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
                used = in_prefix(ntohl(in->sin_addr.s_addr));
            }
        }
        ::freeifaddrs(list);
        if (used) {
            return true;
        }
    }
    // Iface Destination Gateway Flags RefCnt Use Metric Mask ...: addresses in hex, network
    // byte order as the kernel stores them.
    std::string table;
    try {
        table = read_file("/proc/net/route");
    } catch (const Error&) {
        return false;  // no procfs: the addresses were all there was to check
    }
    std::istringstream routes(table);
    std::string line;
    std::getline(routes, line);  // the header
    while (std::getline(routes, line)) {
        std::istringstream fields(line);
        std::string iface, destination;
        if (fields >> iface >> destination) {
            auto dest = static_cast<std::uint32_t>(std::stoul(destination, nullptr, 16));
            if (dest != 0 && in_prefix(ntohl(dest))) {
                return true;
            }
        }
    }
    return false;
}

}  // namespace

int sweep_dead_networks() {
    int removed = 0;
    std::error_code ec;
    if (!fs::is_directory(k_net_lock_dir, ec)) {
        return 0;
    }
    for (const auto& entry : fs::directory_iterator(k_net_lock_dir, ec)) {
        if (entry.path().extension() != ".lock") {
            continue;
        }
        int fd = ::open(entry.path().c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        UniqueFd owner(fd);
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            continue;  // a live run holds it
        }
        NetNames n = parse_lock_text(read_file(entry.path()));
        if (n.bridge.empty()) {
            n.bridge = entry.path().stem().string();
        }
        remove_network(n);
        ++removed;
    }
    return removed;
}

RunNetwork::RunNetwork(NetNames names, int lock_fd)
    : m_names(std::move(names)), m_lock_fd(lock_fd) {}

RunNetwork::RunNetwork(RunNetwork&& other) noexcept
    : m_names(std::move(other.m_names)), m_lock_fd(other.m_lock_fd) {
    other.m_lock_fd = -1;
    other.m_names = {};
}

RunNetwork::~RunNetwork() {
    try {
        release();
    } catch (...) {
    }
}

void RunNetwork::release() {
    if (m_lock_fd < 0) {
        return;
    }
    remove_network(m_names);
    ::close(m_lock_fd);
    m_lock_fd = -1;
}

RunNetwork RunNetwork::create(std::string_view run_id, int nodes) {
    sweep_dead_networks();
    NetNames names = net_names(run_id, nodes, 0);
    for (int attempt = 1; subnet_in_use(names.subnet_prefix); ++attempt) {
        if (attempt > 32) {
            throw Error("no free /24 under 10.64.0.0/10 for the run's node network",
                        "remove stale bridges (ip -o -4 addr)", ExitCode::run_failed);
        }
        names = net_names(run_id, nodes, attempt);
    }
    make_dirs(fs::path(k_net_lock_dir));
    // Locked under a temporary name, then renamed into place: a sweep by another run never
    // finds this run's lock file unlocked.
    fs::path lock = fs::path(k_net_lock_dir) / (names.bridge + ".lock");
    fs::path tmp = fs::path(k_net_lock_dir) / fmt::format("{}.tmp-{}", names.bridge, ::getpid());
    int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw_errno("open", tmp.string(), errno);
    }
    if (::flock(fd, LOCK_EX) != 0) {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        throw_errno("flock", tmp.string(), err);
    }
    std::string text = lock_text(names);
    if (::write(fd, text.data(), text.size()) < 0 || ::rename(tmp.c_str(), lock.c_str()) != 0) {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        throw_errno("write", lock.string(), err);
    }
    RunNetwork net(names, fd);
    // The setup commands in one `ip -batch` for the host and one per namespace (`ip -n NS`), in
    // their order: a process per command cost a few hundred ms per run. The host's commands come
    // first (bridge, namespaces, veth pairs); a namespace's commands need only its eth0.
    std::string host_batch;
    std::vector<std::pair<std::string, std::string>> ns_batches;  // namespace -> its lines
    for (const auto& cmd : net_setup_commands(names)) {
        const bool in_ns = cmd.size() > 3 && cmd[1] == "-n";
        const std::vector<std::string> words(cmd.begin() + (in_ns ? 3 : 1), cmd.end());
        const std::string line = join(words) + "\n";
        if (!in_ns) {
            host_batch += line;
            continue;
        }
        auto it = std::find_if(ns_batches.begin(), ns_batches.end(),
                               [&](const auto& b) { return b.first == cmd[2]; });
        if (it == ns_batches.end()) {
            ns_batches.emplace_back(cmd[2], line);
        } else {
            it->second += line;
        }
    }
    auto run_batch = [](std::vector<std::string> argv, std::string lines) {
        ProcessOptions o;
        o.stdin_data = lines;
        auto r = run_process(argv, o);
        if (!r.ok()) {
            throw Error(
                fmt::format("node network: `{}` with\n{}failed: {}", join(argv), lines, r.err),
                "envpack makes one network namespace per node as root (iproute2)",
                ExitCode::run_failed);
        }
    };
    run_batch({"ip", "-batch", "-"}, host_batch);
    // The namespaces' batches side by side: each only touches its own namespace.
    std::vector<std::future<void>> pending;
    for (const auto& [ns, lines] : ns_batches) {
        pending.push_back(std::async(std::launch::async, run_batch,
                                     std::vector<std::string>{"ip", "-n", ns, "-batch", "-"},
                                     lines));
    }
    for (auto& p : pending) {
        p.get();
    }
    return net;
}

std::optional<RunNetwork> prepare_node_network(const JobSpec& job, std::string_view run_id,
                                               PlanContext& context) {
    if (job.envpack.effective_backend() != "local" && job.envpack.hosts.empty()) {
        return std::nullopt;  // not this machine's nodes
    }
    if (!job.envpack.hosts.empty()) {
        return std::nullopt;  // each node uses its host's network (hosts_backend.h)
    }
    int nodes = job.resources.instance_count.value_or(1);
    if (nodes < 2) {
        return std::nullopt;
    }
    // Every node runs on this machine.
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    context.host_cpus = ::sched_getaffinity(0, sizeof(cpus), &cpus) == 0
                            ? CPU_COUNT(&cpus)
                            : static_cast<int>(std::thread::hardware_concurrency());
    if (::geteuid() != 0) {
        context.node_network = NodeNetwork::host;
        return std::nullopt;
    }
    RunNetwork net = RunNetwork::create(run_id, nodes);
    context.node_network = NodeNetwork::namespaces;
    context.subnet_prefix = net.names().subnet_prefix;
    context.socket_ifname = "eth0";
    return net;
}

}  // namespace envpack
