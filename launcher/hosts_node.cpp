#include "launcher/hosts_node.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "builder/unpack_cache.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"
#include "core/signals.h"
#include "launcher/broker.h"
#include "launcher/detail/fd_write.h"
#include "launcher/hosts_backend.h"
#include "launcher/hosts_inputs.h"
#include "launcher/local_backend.h"
#include "launcher/node_spec.h"
#include "launcher/oci_config.h"
#include "launcher/rank_exits.h"
#include "launcher/rootfs.h"
#include "launcher/runtime.h"

namespace envpack {

namespace fs = std::filesystem;

fs::path node_run_dir(const fs::path& home, std::string_view run_id, std::string_view node_name) {
    return home / "node-runs" / std::string(run_id) / std::string(node_name);
}

// ---- node run -------------------------------------------------------------------------------

namespace {

// `ip netns exec` (the transport of the tests, and of a machine playing several hosts) mounts a
// fresh /sys for the namespace, without the cgroup hierarchies the runtime needs ("no cgroup mount
// found in mountinfo"), and a mount cannot be bound in from another mount namespace. So, in this
// process's private mount namespace, the hierarchies PID 1 has under /sys/fs/cgroup are mounted
// again (the same hierarchy, by type and options). Returns whether it mounted them: the caller
// then chooses the runtime's cgroup workaround again (runtime.h). A no-op where they are mounted.
bool restore_cgroup_mounts() {
    if (read_file("/proc/self/mountinfo").find(" /sys/fs/cgroup") != std::string::npos) {
        return false;
    }
    std::string info = read_file("/proc/1/mountinfo");
    size_t start = 0;
    for (size_t nl; (nl = info.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string line = info.substr(start, nl - start);
        std::vector<std::string> f;
        for (size_t i = 0, j; i <= line.size(); i = j + 1) {
            j = line.find(' ', i);
            j = j == std::string::npos ? line.size() : j;
            f.push_back(line.substr(i, j - i));
        }
        auto dash = std::find(f.begin(), f.end(), "-");
        if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) {
            continue;
        }
        const std::string& point = f[4];
        const std::string& type = *(dash + 1);
        std::string options = *(dash + 3);
        if (point != "/sys/fs/cgroup" && !point.starts_with("/sys/fs/cgroup/")) {
            continue;
        }
        if (options.starts_with("rw,")) {
            options.erase(0, 3);
        } else if (options == "rw") {
            options.clear();
        }
        make_dirs(point);
        const char* data = options.empty() ? nullptr : options.c_str();
        if (::mount(type.c_str(), point.c_str(), type.c_str(), 0, data) != 0) {
            throw_errno(fmt::format("mount {} ({}) on", type, options), point, errno);
        }
    }
    return true;
}

// A node directory is made under a temporary name holding its lock, then renamed into place,
// so a sweep never finds a live node's lock free.
constexpr std::string_view k_lock_name = ".lock";
constexpr std::string_view k_container_name = "container";

int lock_node_dir(const fs::path& dir) {
    fs::path tmp =
        dir.parent_path() / fmt::format(".tmp-{}-{}", dir.filename().string(), ::getpid());
    make_dirs(tmp);
    int fd = ::open((tmp / k_lock_name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
        throw_errno("lock", (tmp / k_lock_name).string(), errno);
    }
    if (::rename(tmp.c_str(), dir.c_str()) != 0) {
        int err = errno;
        ::close(fd);
        std::error_code ec;
        fs::remove_all(tmp, ec);
        throw_errno("rename to", dir.string(), err);
    }
    return fd;
}

}  // namespace

int sweep_dead_nodes(const fs::path& home, const Runtime& runtime) {
    int removed = 0;
    std::error_code ec;
    fs::path root = home / "node-runs";
    if (!fs::is_directory(root, ec)) {
        return 0;
    }
    RuntimeDriver driver(runtime);
    for (const auto& run : fs::directory_iterator(root, ec)) {
        for (const auto& node : fs::directory_iterator(run.path(), ec)) {
            if (node.path().filename().string().starts_with(".tmp-")) {
                continue;
            }
            int fd = ::open((node.path() / k_lock_name).c_str(), O_RDWR | O_CLOEXEC);
            if (fd < 0) {
                continue;
            }
            if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
                fs::path id_file = node.path() / k_container_name;
                if (fs::exists(id_file, ec)) {
                    std::string id = read_file(id_file);
                    try {
                        if (driver.known(id)) {
                            driver.destroy(id);
                        }
                    } catch (const Error&) {
                    }
                }
                ::umount2((node.path() / "node" / "rootfs").c_str(), MNT_DETACH);
                fs::remove_all(node.path(), ec);
                ++removed;
            }
            ::close(fd);
        }
        fs::remove(run.path(), ec);  // only when empty
    }
    return removed;
}

namespace {

// Everything a node run made on its host, removed however it ends.
class NodeRun {
  public:
    NodeRun(fs::path dir, Runtime runtime)
        : m_dir(std::move(dir)), m_runtime(runtime), m_driver(std::move(runtime)) {}
    ~NodeRun() {
        try {
            teardown();
        } catch (...) {
        }
        std::error_code ec;
        fs::remove_all(m_dir, ec);
        fs::remove(m_dir.parent_path(), ec);  // only when empty
    }

    void start(const NodeSpec& spec, const fs::path& home, const fs::path& helpers_dir, Log& log) {
        check_node_inputs(spec, input_cache_dir(home));  // hosts_inputs.h: sent before this
        Store store(home / "store");
        m_unpacked.emplace(ensure_unpacked(store, spec.manifest, home, log));
        m_rootfs.emplace(m_unpacked->rootfs(), m_dir / "node", RootfsMode::automatic);
        m_container = localize(spec, m_dir, helpers_dir, m_rootfs->path(), input_cache_dir(home));
        make_dirs(m_container.bundle);
        start_broker(spec);
        prepare_mounts(m_container, "the broker socket must exist on node 0's host");
        write_file_atomic(
            m_container.bundle / "config.json",
            render_oci_config(m_container, parse_numeric_user(m_container.user).value_or(OciUser{}),
                              host_oci_options()),
            Durability::none);
        write_file_atomic(m_dir / k_container_name, m_container.id, Durability::none);
        m_started = true;
        m_driver.create_and_start(m_container.id, m_container.bundle);
    }

    // Node 0 of an MPI job: mpirun's agent (bind-mounted socket at @run/broker) reaches the
    // other nodes through this host's transport to theirs.
    void start_broker(const NodeSpec& spec) {
        if (spec.broker_targets.empty()) {
            return;
        }
        BrokerOptions bo;
        bo.dir = m_dir / "broker";
        bo.work_dir = m_dir / "broker-work";
        bo.runtime = m_runtime;
        Transport transport = Transport::parse(spec.transport);
        for (const auto& t : spec.broker_targets) {
            BrokerTarget b;
            b.node = t.node;
            b.container_id = t.container_id;
            b.process = t.process;
            b.remote_exec = [transport, t, run = spec.run_id,
                             runtime = spec.runtime](const ExecProcess& e) {
                return remote_envpack(
                    transport, t.host,
                    {"node", "exec", "--run", run, "--node", t.node, "--container", t.container_id,
                     "--runtime", runtime, "--process", render_exec_process(e)});
            };
            bo.targets.push_back(std::move(b));
        }
        m_broker = std::make_unique<Broker>(std::move(bo));
    }

    // This host's exits directories of the node's failed ranks (rank_exits.h).
    std::vector<fs::path> rank_exits() const { return rank_exit_dirs(m_container); }

    void teardown() {
        if (m_broker) {
            m_broker->stop();
            m_broker.reset();
        }
        if (m_started) {
            m_started = false;
            if (m_driver.known(m_container.id)) {
                m_driver.destroy(m_container.id);
            }
        }
        if (m_rootfs) {
            m_rootfs->release();
        }
    }

  private:
    fs::path m_dir;
    Runtime m_runtime;
    RuntimeDriver m_driver;
    std::unique_ptr<Broker> m_broker;
    std::optional<UnpackedImage> m_unpacked;
    std::optional<RunRootfs> m_rootfs;
    PlanContainer m_container;
    bool m_started = false;
};

}  // namespace

int node_run(const fs::path& home, const fs::path& helpers_dir, std::string_view run_id,
             std::string_view node_name, Log& log, int in_fd, int out_fd) {
    ::signal(SIGPIPE, SIG_IGN);
    FdReader in(in_fd);
    auto line = in.line();
    if (!line) {
        throw Error("node run: no node spec on stdin", "", ExitCode::bad_input);
    }
    nlohmann::json j = nlohmann::json::parse(*line, nullptr, false);
    if (j.is_discarded()) {
        throw Error("node run: the node spec is not JSON", "", ExitCode::bad_input);
    }
    NodeSpec spec = NodeSpec::from_json(j, "node spec");
    if (spec.run_id != run_id || spec.node_name != node_name) {
        throw Error(fmt::format("node run: the spec is for {} node {}, not {} node {}", spec.run_id,
                                spec.node_name, run_id, node_name),
                    "", ExitCode::bad_input);
    }
    const RuntimeChoice choice = runtime_choice_from(std::string_view(spec.runtime));
    Runtime runtime = select_runtime(choice, probe_host_facts());
    if (::geteuid() != 0) {
        throw Error(fmt::format("node {}: envpack node run needs root on this host", node_name), "",
                    ExitCode::run_failed);
    }
    // Single-threaded still: nothing this node mounts is seen outside it or outlives it.
    enter_private_mount_namespace(runtime);
    // The host's cgroup mounts were not visible before (the fresh /sys of `ip netns exec`):
    // only now can the runtime's cgroup workaround be chosen (crun on hybrid cgroups).
    if (restore_cgroup_mounts()) {
        runtime = select_runtime(choice, probe_host_facts());
        hide_hybrid_cgroup2(runtime);
    }
    // Nodes of runs whose node run was killed (their lock is free) are removed first.
    sweep_dead_nodes(home, runtime);
    fs::path dir = node_run_dir(home, run_id, node_name);
    if (fs::exists(dir)) {
        throw Error(fmt::format("node {}: {} already exists", node_name, dir.string()),
                    "another envpack node run of this run is alive on this host, or one was "
                    "killed: remove the directory",
                    ExitCode::run_failed);
    }
    make_dirs(dir.parent_path());
    int lock_fd = lock_node_dir(dir);  // held until this process ends
    (void)lock_fd;
    NodeRun run(dir, runtime);
    if (spec.code_bytes > 0) {
        std::string tar;
        tar.reserve(spec.code_bytes);
        if (!in.read_exact(spec.code_bytes, [&](std::string_view b) { tar.append(b); })) {
            throw Error(fmt::format("node {}: the code snapshot ended early", node_name));
        }
        make_dirs(dir / "code");
        ProcessOptions po;
        po.stdin_data = std::move(tar);
        auto r = run_process({"tar", "-x", "-f", "-", "-C", (dir / "code").string()}, po);
        if (!r.ok()) {
            throw Error(fmt::format("node {}: unpack the code snapshot: {}", node_name, r.err));
        }
    }
    for (const auto& [rel, content] : spec.files) {
        make_dirs((dir / rel).parent_path());
        write_file_atomic(dir / rel, content, Durability::none);
    }
    run.start(spec, home, helpers_dir, log);
    detail::write_all(out_fd, "ready\n", "stdout");

    // Until the launcher closes stdin (done, or gone) or a signal arrives. A rank of this node
    // that fails (rank_exits.h) is reported at once, `rank-exit NAME LINE`: the launcher then
    // stops every node.
    SignalForwarder signals({SIGTERM, SIGINT, SIGHUP});
    const auto exits = run.rank_exits();
    bool reported = exits.empty();
    for (;;) {
        pollfd p[2] = {{in_fd, POLLIN, 0}, {signals.fd(), POLLIN, 0}};
        if (::poll(p, 2, reported ? -1 : 50) < 0 && errno != EINTR) {
            break;
        }
        if (!reported) {
            if (auto r = first_rank_exit(exits)) {
                reported = true;
                try {
                    detail::write_all(out_fd,
                                      fmt::format("rank-exit {} {}", r->file_name(), r->to_line()),
                                      "stdout");
                } catch (const Error&) {
                    // The launcher is gone: stdin closes too.
                }
            }
        }
        if (p[1].revents) {
            break;
        }
        if (p[0].revents) {
            char chunk[4096];
            ssize_t n = ::read(in_fd, chunk, sizeof chunk);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                break;
            }
        }
    }
    run.teardown();

    std::vector<std::string> dirs;
    for (const auto& rel : returned_dirs(spec)) {
        if (fs::exists(dir / rel)) {
            dirs.push_back(rel);
        }
    }
    std::string tar;
    if (!dirs.empty()) {
        std::vector<std::string> argv = {"tar", "-c", "-f", "-", "-C", dir.string()};
        argv.insert(argv.end(), dirs.begin(), dirs.end());
        auto r = run_process(argv);
        if (!r.ok()) {
            log.warnf("node {}: collect outputs: {}", node_name, r.err);
        } else {
            tar = std::move(r.out);
        }
    }
    try {
        detail::write_all(out_fd, fmt::format("outputs {}\n", tar.size()), "stdout");
        detail::write_all(out_fd, tar, "stdout");
    } catch (const Error&) {
        // The launcher is gone: the outputs have nowhere to go; the node is cleaned up anyway.
    }
    return 0;
}

// ---- node exec ------------------------------------------------------------------------------

void node_exec(const fs::path& home, std::string_view run_id, std::string_view node_name,
               std::string_view container_id, std::string_view runtime_name,
               std::string_view process_json) {
    const RuntimeChoice choice = runtime_choice_from(runtime_name);
    Runtime runtime = select_runtime(choice, probe_host_facts());
    fs::path dir = node_run_dir(home, run_id, node_name);
    if (!fs::exists(dir / "bundle")) {
        throw Error(fmt::format("node {} of run {} does not run on this host (no {})", node_name,
                                run_id, dir.string()),
                    "", ExitCode::run_failed);
    }
    enter_private_mount_namespace(runtime);
    // The host's cgroup mounts were not visible before (the fresh /sys of `ip netns exec`):
    // only now can the runtime's cgroup workaround be chosen (crun on hybrid cgroups).
    if (restore_cgroup_mounts()) {
        runtime = select_runtime(choice, probe_host_facts());
        hide_hybrid_cgroup2(runtime);
    }
    make_dirs(dir / "exec");
    fs::path json = dir / "exec" / fmt::format("process-{}.json", ::getpid());
    write_file_atomic(json, std::string(process_json), Durability::none);
    std::vector<std::string> argv = RuntimeCommands(runtime).exec(container_id, json);
    std::vector<char*> cargv;
    for (auto& a : argv) {
        cargv.push_back(a.data());
    }
    cargv.push_back(nullptr);
    ::execvp(cargv[0], cargv.data());
    throw_errno("exec", argv.front(), errno);
}

}  // namespace envpack
