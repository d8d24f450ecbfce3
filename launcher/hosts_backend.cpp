#include "launcher/hosts_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/child.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"
#include "core/process_runner.h"
#include "core/supervisor.h"
#include "launcher/detail/fd_write.h"
#include "launcher/hosts_inputs.h"
#include "launcher/hosts_node.h"
#include "launcher/local_backend.h"
#include "launcher/mpi_python_hook.h"
#include "launcher/node_spec.h"
#include "launcher/oci_config.h"
#include "launcher/rank_exits.h"
#include "launcher/runtime.h"

namespace envpack {

namespace fs = std::filesystem;

std::vector<std::string> remote_envpack(const Transport& transport, const JobHost& host,
                                        const std::vector<std::string>& args) {
    std::vector<std::string> argv;
    if (!host.home.empty()) {
        argv = {"env", "ENVPACK_HOME=" + host.home};
    }
    argv.push_back(host.program.empty() ? "envpack" : host.program);
    argv.insert(argv.end(), args.begin(), args.end());
    return transport.command(host.name, argv);
}

std::vector<std::string> merge_node_outputs(const fs::path& record_dir,
                                            const std::vector<std::string>& node_names) {
    std::map<std::string, std::vector<std::string>> writers;  // path -> nodes, lowest first
    std::error_code ec;
    for (const auto& rel : [&] {
             std::vector<std::string> paths;
             fs::path out0 = record_dir / "outputs";
             if (!node_names.empty() && fs::is_directory(out0, ec)) {
                 for (auto it = fs::recursive_directory_iterator(out0, ec);
                      it != fs::recursive_directory_iterator(); it.increment(ec)) {
                     if (!it->is_directory(ec)) {
                         paths.push_back(it->path().lexically_relative(out0).string());
                     }
                 }
             }
             return paths;
         }()) {
        writers[rel].push_back(node_names.front());
    }
    for (size_t k = 1; k < node_names.size(); ++k) {
        fs::path src = record_dir / "nodes" / node_names[k] / "outputs";
        if (!fs::is_directory(src, ec)) {
            continue;
        }
        for (auto it = fs::recursive_directory_iterator(src, ec);
             it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_directory(ec)) {
                continue;
            }
            std::string rel = it->path().lexically_relative(src).string();
            auto& w = writers[rel];
            if (w.empty()) {
                fs::path dest = record_dir / "outputs" / rel;
                make_dirs(dest.parent_path());
                fs::copy(it->path(), dest,
                         fs::copy_options::copy_symlinks | fs::copy_options::overwrite_existing);
            }
            w.push_back(node_names[k]);
        }
    }
    std::vector<std::string> conflicts;
    for (const auto& [rel, nodes] : writers) {
        if (nodes.size() > 1) {
            std::string others;
            for (size_t i = 1; i < nodes.size(); ++i) {
                others += (i > 1 ? ", " : "") + nodes[i];
            }
            conflicts.push_back(fmt::format("outputs/{}: kept {}'s copy, also written by {}", rel,
                                            nodes.front(), others));
        }
    }
    return conflicts;
}

namespace {

std::string trimmed_tail(std::string text, size_t n = 1500) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    if (text.size() > n) {
        text = "..." + text.substr(text.size() - n);
    }
    return text;
}

std::string file_tail(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        return "";
    }
    return trimmed_tail(read_file(path));
}

// A movable owned file descriptor.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    Fd(Fd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            m_fd = std::exchange(o.m_fd, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return m_fd; }
    void reset() {
        if (m_fd >= 0) {
            ::close(m_fd);
            m_fd = -1;
        }
    }

  private:
    int m_fd = -1;
};

struct Pipe {
    Fd read, write;
    Pipe() {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) {
            throw_errno("pipe2", "a node's stdio", errno);
        }
        read = Fd(p[0]);
        write = Fd(p[1]);
    }
};

// One host's `envpack node run`: its stdin (closing it stops the node) and stdout.
struct NodeProcess {
    std::optional<Child> child;
    Fd in;   // write end
    Fd out;  // read end
    std::unique_ptr<FdReader> reader;
    fs::path log;
    // The `outputs N` line when the watcher read it first (collect_outputs goes on from there).
    std::optional<std::string> outputs_line;
};

class HostsRun {
  public:
    HostsRun(const RunPlan& plan, const RunRecord& record, const HostsRunOptions& options)
        : m_plan(plan), m_record(record), m_options(options) {}

    ~HostsRun() {
        try {
            teardown();
        } catch (...) {
        }
    }

    HostsRunOutcome run() {
        HostsRunOutcome outcome;
        read_inputs();
        probe_hosts();
        send_blobs(outcome.transfers);
        send_inputs(outcome.transfers);
        write_hosts_record(outcome.transfers);
        start_nodes();
        execute(outcome);
        teardown();
        // The nodes' logs are back: the first failed rank's code is the run's (rank_exits.h).
        if (auto rank = failed_rank(m_end, rank_exit_dirs(m_plan), m_rank_reported)) {
            outcome.exit_code = rank->exit_code();
            outcome.message = rank->describe() + "; " + outcome.message;
        }
        std::vector<std::string> names;
        for (const auto& n : m_plan.nodes) {
            names.push_back(n.name);
        }
        outcome.conflicts = merge_node_outputs(m_record.dir(), names);
        return outcome;
    }

  private:
    const JobHost& host(size_t node) const { return m_options.hosts.at(node); }
    fs::path hosts_dir() const { return m_record.dir() / "remote"; }

    std::vector<std::string> envpack_on(size_t node, const std::vector<std::string>& args) const {
        return remote_envpack(m_options.transport, host(node), args);
    }

    Error unreachable(size_t node, int code, const std::string& err) const {
        std::string hint = code == 127
                               ? fmt::format(
                                     "is envpack installed on `{0}`? name it with "
                                     "`program:` in envpack.hosts[{1}]",
                                     host(node).name, node)
                               : fmt::format(
                                     "check that `{} {} true` works from this machine and that "
                                     "envpack.hosts[{}].name is right",
                                     m_options.transport.to_string(), host(node).name, node);
        return Error(fmt::format("host `{}` (node {}) cannot be reached through `{}` (exit {}): {}",
                                 host(node).name, node, m_options.transport.to_string(), code,
                                 trimmed_tail(err)),
                     hint, ExitCode::run_failed);
    }

    // 1. Every host answers which blobs it holds before anything starts anywhere.
    void probe_hosts() {
        make_dirs(hosts_dir());
        m_blobs = image_blobs(*m_options.store, m_options.manifest);
        std::vector<std::string> args = {"node", "blobs-have"};
        for (const auto& b : m_blobs) {
            args.push_back(b.digest.to_string());
        }
        for (size_t k = 0; k < m_plan.nodes.size(); ++k) {
            auto r = ask(k, args);
            if (!r.ok()) {
                throw unreachable(k, r.status_code(), r.err.empty() ? r.out : r.err);
            }
            const std::set<std::string> present = lines_of(r.out);
            std::vector<Descriptor> missing;
            for (const auto& b : m_blobs) {
                if (!present.contains(b.digest.to_string())) {
                    missing.push_back(b);
                }
            }
            m_missing.push_back(std::move(missing));
        }
    }

    // A short query of node K's host (`node blobs-have`, `node inputs-have`): 120 s at most.
    ProcessResult ask(size_t k, const std::vector<std::string>& args) const {
        ProcessOptions po;
        po.timeout = std::chrono::seconds(120);
        return run_process(envpack_on(k, args), po);
    }

    // The lines of a query's answer (the digests a host holds).
    static std::set<std::string> lines_of(const std::string& out) {
        std::set<std::string> lines;
        size_t start = 0;
        for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
            lines.insert(out.substr(start, nl - start));
        }
        return lines;
    }

    // The name a host's store gives an image it received (kept by its `envpack gc`).
    std::string received_tag() const {
        return "envpack/received:" + m_options.manifest.digest.hex().substr(0, 32);
    }

    // `envpack ARGS` on node K's host, fed by `write` (which returns the bytes it sent); its
    // output goes to remote/HOST.LOG_SUFFIX. Throws Error (exit 125) when either side fails.
    std::uint64_t stream_to(size_t k, const std::vector<std::string>& args,
                            std::string_view log_suffix, std::string_view what,
                            const std::function<std::uint64_t(int)>& write) const {
        fs::path log = hosts_dir() / fmt::format("{}.{}", host(k).name, log_suffix);
        Pipe p;
        ChildOptions co;
        co.in = ChildInput::fd(p.read.get());
        co.out = ChildOutput::file(log);
        co.err = ChildOutput::merge();
        Child child = Child::spawn(envpack_on(k, args), std::move(co));
        p.read.reset();
        std::optional<Error> failed;
        std::uint64_t bytes = 0;
        try {
            bytes = write(p.write.get());
        } catch (const Error& e) {
            failed = e;
        }
        p.write.reset();
        ExitStatus st = child.wait();
        if (!st.ok() || failed) {
            // The sender's own failure (an input that changed, say) says more than the
            // receiver's complaint about the stream it cut; a write error (EPIPE: the receiver
            // failed first) says less than the receiver's log.
            std::string why = file_tail(log);
            if (failed && (failed->kind() != ErrorKind::io || why.empty())) {
                why = failed->what();
            }
            throw Error(fmt::format("host `{}` (node {}): sending {} failed: {}", host(k).name, k,
                                    what, why),
                        failed ? failed->hint() : "", ExitCode::run_failed);
        }
        return bytes;
    }

    // 2. Only the blobs a host lacks, over the transport.
    void send_blobs(std::vector<HostTransfer>& transfers) {
        for (size_t k = 0; k < m_plan.nodes.size(); ++k) {
            HostTransfer t;
            t.host = host(k).name;
            t.blobs_present = static_cast<int>(m_blobs.size() - m_missing[k].size());
            if (!m_missing[k].empty()) {
                t.bytes_sent = stream_to(
                    k,
                    {"node", "blobs-receive", "--tag", received_tag(), "--manifest",
                     m_options.manifest.to_json().dump()},
                    "blobs.log", fmt::format("{} blobs", m_missing[k].size()),
                    [&](int fd) { return write_blob_stream(fd, *m_options.store, m_missing[k]); });
                t.blobs_sent = static_cast<int>(m_missing[k].size());
            }
            std::fprintf(stderr, "envpack: host %s: sent %d blobs (%llu bytes), %d already there\n",
                         t.host.c_str(), t.blobs_sent,
                         static_cast<unsigned long long>(t.bytes_sent), t.blobs_present);
            transfers.push_back(t);
        }
    }

    // 0. The job's local inputs, read and digested here before any host is contacted: a bad
    //    one stops the run with 125 naming it (hosts_inputs.h).
    void read_inputs() {
        for (const auto& input : plan_local_inputs(m_plan)) {
            m_inputs.push_back(read_input(
                input,
                m_options.home.empty() ? fs::path() : input_cache_dir(m_options.home) / "digests"));
            m_input_digests[input.source.string()] = m_inputs.back().digest;
        }
    }

    // 2b. Each host receives the inputs its cache lacks (by digest), over the transport.
    void send_inputs(std::vector<HostTransfer>& transfers) {
        if (m_inputs.empty()) {
            return;
        }
        std::vector<std::string> have_args = {"node", "inputs-have"};
        for (const auto& in : m_inputs) {
            have_args.push_back(in.digest.to_string());
        }
        for (size_t k = 0; k < m_plan.nodes.size(); ++k) {
            auto r = ask(k, have_args);
            if (!r.ok()) {
                // The host answered `node blobs-have` a moment ago.
                throw Error(
                    fmt::format(
                        "host `{}` (node {}): `envpack node inputs-have` failed (exit {}): {}",
                        host(k).name, k, r.status_code(),
                        trimmed_tail(r.err.empty() ? r.out : r.err)),
                    r.status_code() == static_cast<int>(ExitCode::bad_input)
                        ? "the host's envpack is older than this one: a job with local inputs "
                          "needs `envpack node inputs-have` and `inputs-receive` there"
                        : "",
                    ExitCode::run_failed);
            }
            const std::set<std::string> present = lines_of(r.out);
            std::vector<const InputTree*> missing;
            for (const auto& in : m_inputs) {
                if (!present.contains(in.digest.to_string())) {
                    missing.push_back(&in);
                }
            }
            HostTransfer& t = transfers.at(k);
            t.inputs_present = static_cast<int>(m_inputs.size() - missing.size());
            if (!missing.empty()) {
                std::string names;
                for (const auto* in : missing) {
                    names += (names.empty() ? "" : ", ") + in->input.name;
                }
                t.input_bytes_sent = stream_to(k, {"node", "inputs-receive"}, "inputs.log",
                                               fmt::format("the inputs {}", names), [&](int fd) {
                                                   return write_input_stream(fd, missing);
                                               });
                t.inputs_sent = static_cast<int>(missing.size());
            }
            std::fprintf(stderr,
                         "envpack: host %s: sent %d inputs (%llu bytes), %d already there\n",
                         t.host.c_str(), t.inputs_sent,
                         static_cast<unsigned long long>(t.input_bytes_sent), t.inputs_present);
        }
    }

    // What went to each host: the record's hosts.json.
    void write_hosts_record(const std::vector<HostTransfer>& transfers) const {
        nlohmann::json record = nlohmann::json::array();
        for (size_t k = 0; k < transfers.size(); ++k) {
            const HostTransfer& t = transfers[k];
            record.push_back({{"host", t.host},
                              {"node", k},
                              {"blobs_sent", t.blobs_sent},
                              {"bytes_sent", t.bytes_sent},
                              {"blobs_present", t.blobs_present},
                              {"inputs_sent", t.inputs_sent},
                              {"input_bytes_sent", t.input_bytes_sent},
                              {"inputs_present", t.inputs_present}});
        }
        write_file_atomic(m_record.dir() / "hosts.json", record.dump(2) + "\n", Durability::none);
    }

    std::string code_tar() const {
        fs::path code = m_record.dir() / "code";
        if (!fs::is_directory(code)) {
            return "";
        }
        auto r = run_process({"tar", "-c", "-f", "-", "-C", code.string(), "."});
        if (!r.ok()) {
            throw Error(fmt::format("tar the code snapshot {}: {}", code.string(), r.err), "",
                        ExitCode::run_failed);
        }
        return r.out;
    }

    // 3. Every host starts its node container and says "ready".
    void start_nodes() {
        if (!m_plan.hostfile.empty()) {
            write_file_atomic(m_record.dir() / "hostfile", m_plan.hostfile, Durability::none);
        }
        write_file_atomic(m_record.dir() / "hosts", m_plan.etc_hosts, Durability::none);
        if (m_plan.distribution == DistributionType::mpi) {
            make_dirs(m_record.dir() / "python");
            write_file_atomic(m_record.dir() / "python" / "sitecustomize.py", mpi_sitecustomize(),
                              Durability::none);
        }
        std::string code = code_tar();
        for (size_t k = 0; k < m_plan.nodes.size(); ++k) {
            NodeSpec spec = make_node_spec(m_plan, static_cast<int>(k), m_record.dir(),
                                           m_options.manifest, m_options.runtime, m_input_digests);
            add_broker_targets(spec);
            bool has_code = false;
            for (const auto& m : spec.container.mounts) {
                has_code = has_code || m.destination == container_paths::k_workspace;
            }
            spec.code_bytes = has_code ? code.size() : 0;
            Pipe in, out;
            NodeProcess& n = m_nodes.emplace_back();
            n.log = hosts_dir() / fmt::format("{}.log", host(k).name);
            ChildOptions co;
            co.in = ChildInput::fd(in.read.get());
            co.out = ChildOutput::fd(out.write.get());
            co.err = ChildOutput::file(n.log);
            n.child.emplace(Child::spawn(
                envpack_on(k, {"node", "run", "--run", m_plan.run_id, "--node", spec.node_name}),
                std::move(co)));
            n.in = std::move(in.write);
            n.out = std::move(out.read);
            n.reader = std::make_unique<FdReader>(n.out.get());
            try {
                detail::write_all(n.in.get(), spec.to_json().dump() + "\n", "a node's stdin");
                if (has_code) {
                    detail::write_all(n.in.get(), code, "a node's stdin");
                }
            } catch (const Error&) {
                // The node run is gone already: its log says why (below).
            }
        }
        for (size_t k = 0; k < m_nodes.size(); ++k) {
            auto line = m_nodes[k].reader->line();
            if (!line || *line != "ready") {
                m_nodes[k].child->wait_for(std::chrono::seconds(5));
                throw Error(fmt::format("host `{}` (node {}): the node container did not start: {}",
                                        host(k).name, k, file_tail(m_nodes[k].log)),
                            fmt::format("its envpack's log: {}", m_nodes[k].log.string()),
                            ExitCode::run_failed);
            }
        }
        m_started_ok = true;
    }

    ExecProcess exec_process(const PlanContainer& c, std::vector<std::string> args, EnvList env,
                             std::string cwd) const {
        ExecProcess e;
        e.args = std::move(args);
        for (const auto& [k, v] : env) {
            e.env[k] = v;
        }
        e.cwd = cwd.empty() ? "/" : cwd;
        auto user = parse_numeric_user(c.user).value_or(OciUser{});
        e.uid = user.uid;
        e.gid = user.gid;
        return e;
    }

    std::vector<std::string> remote_exec(size_t node, const ExecProcess& e) const {
        const PlanContainer& c = m_plan.containers.at(node);
        return envpack_on(node, {"node", "exec", "--run", m_plan.run_id, "--node",
                                 m_plan.nodes.at(node).name, "--container", c.id, "--runtime",
                                 m_options.runtime, "--process", render_exec_process(e)});
    }

    // mpirun in node 0 reaches node K through the broker on node 0's host, and the broker
    // reaches node K's host through the transport.
    void add_broker_targets(NodeSpec& spec) const {
        if (spec.node != 0 || m_plan.distribution != DistributionType::mpi ||
            m_plan.containers.size() < 2) {
            return;
        }
        spec.transport = m_options.transport.prefix();
        for (size_t k = 0; k < m_plan.containers.size(); ++k) {
            const auto& c = m_plan.containers[k];
            spec.broker_targets.push_back(
                {m_plan.nodes.at(k).name, c.id, host(k), exec_process(c, {}, c.env, c.cwd)});
        }
    }

    // Closing a node run's stdin stops its node (from the supervisor's thread, the watcher's or
    // this one).
    void close_inputs() {
        std::lock_guard lock(m_inputs_mutex);
        for (auto& n : m_nodes) {
            n.in.reset();
        }
    }

    // A rank that failed on node K (its node run says `rank-exit NAME LINE`, rank_exits.h): kept
    // in m_rank_reported. Other lines are left for collect_outputs.
    bool read_rank_exit(NodeProcess& n) {
        pollfd p{n.out.get(), POLLIN, 0};
        if (n.outputs_line || ::poll(&p, 1, 0) <= 0) {
            return false;
        }
        auto line = n.reader->line();
        if (!line || !line->starts_with("rank-exit ")) {
            n.outputs_line = line.value_or("");
            return false;
        }
        std::string_view rest = std::string_view(*line).substr(10);
        size_t sp = rest.find(' ');
        if (sp == std::string_view::npos) {
            return false;
        }
        m_rank_reported = RankExit::parse(rest.substr(0, sp), rest.substr(sp + 1));
        return m_rank_reported.has_value();
    }

    // A host lost mid-run (its node run ended: killed, or the connection dropped) stops every
    // node, so the processes there fail and the supervisor ends the job. So does a rank that
    // fails. Returns the lost host's name, or "" when none was lost.
    std::string watch_nodes(const std::atomic<bool>& running) {
        while (running) {
            for (size_t k = 0; k < m_nodes.size(); ++k) {
                if (read_rank_exit(m_nodes[k])) {
                    close_inputs();
                    return "";
                }
                if (m_nodes[k].child->try_wait()) {
                    // Its last words: a rank that failed, or the outputs of a node stopped by
                    // this side (the job ended) — not a lost one.
                    if (read_rank_exit(m_nodes[k])) {
                        close_inputs();
                        return "";
                    }
                    if (m_nodes[k].outputs_line &&
                        m_nodes[k].outputs_line->starts_with("outputs ")) {
                        continue;
                    }
                    close_inputs();
                    return host(k).name;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return "";
    }

    // 4. The processes, supervised here.
    void execute(HostsRunOutcome& outcome) {
        m_logs = std::make_unique<ProcessLogs>(m_record.logs_dir(), m_options.echo);
        ChildRunner runner(m_options.signals);
        SupervisorOptions so = supervisor_options(m_plan, m_options.grace);
        so.on_stop = [this](JobEnd) { close_inputs(); };
        Supervisor supervisor(runner, so);
        for (const auto& p : m_plan.processes) {
            if (p.launch == Launch::by_mpirun) {
                continue;
            }
            const auto& c = m_plan.containers.at(static_cast<size_t>(p.node));
            supervisor.start(process_spec(
                m_plan, p,
                remote_exec(static_cast<size_t>(p.node), exec_process(c, p.argv, p.env, p.cwd)),
                *m_logs));
        }
        if (m_options.on_running) {
            m_options.on_running();
        }
        std::atomic<bool> running{true};
        std::string lost;
        std::thread watcher([&] { lost = watch_nodes(running); });
        JobResult result = supervisor.run();
        running = false;
        watcher.join();
        m_end = result.end;
        outcome.exit_code = end_exit_code(result);
        outcome.reason = end_reason(result.end);
        outcome.message = result.summary();
        if (!lost.empty()) {
            outcome.message =
                fmt::format("host `{}` was lost (its envpack node run ended: {}); {}", lost,
                            file_tail(hosts_dir() / (lost + ".log")), outcome.message);
            if (outcome.exit_code == 0) {
                outcome.exit_code = static_cast<int>(ExitCode::run_failed);
            }
        }
        if (auto err = m_logs->error()) {
            outcome.message += "; " + *err;
        }
    }

    // 5. Every node stops and sends back its outputs and logs.
    void teardown() {
        if (m_torn_down) {
            return;
        }
        m_torn_down = true;
        close_inputs();
        std::optional<Error> first;
        for (size_t k = 0; k < m_nodes.size(); ++k) {
            NodeProcess& n = m_nodes[k];
            try {
                collect_outputs(k, n);
            } catch (const Error& e) {
                first = first.value_or(e);
            }
            if (n.child && !n.child->wait_for(std::chrono::seconds(60))) {
                n.child->kill_tree();
                n.child->wait();
            }
        }
        m_nodes.clear();
        if (first) {
            throw *first;
        }
    }

    void collect_outputs(size_t k, NodeProcess& n) {
        auto line = n.outputs_line ? n.outputs_line : n.reader ? n.reader->line() : std::nullopt;
        while (line && !line->starts_with("outputs ")) {
            line = n.reader->line();  // a "ready" not read yet
        }
        if (!line) {
            if (m_started_ok) {  // a host lost: the run's message says so
                std::fprintf(stderr, "envpack: host %s (node %zu): no outputs came back\n",
                             host(k).name.c_str(), k);
            }
            return;
        }
        std::uint64_t size = std::stoull(line->substr(8));
        std::string tar;
        if (!n.reader->read_exact(size, [&](std::string_view b) { tar.append(b); })) {
            throw Error(fmt::format("host `{}`: its outputs ended early", host(k).name));
        }
        if (tar.empty()) {
            return;
        }
        ProcessOptions po;
        po.stdin_data = std::move(tar);
        auto r = run_process(
            {"tar", "-x", "-f", "-", "--no-same-owner", "-C", m_record.dir().string()}, po);
        if (!r.ok()) {
            throw Error(fmt::format("host `{}`: unpack its outputs: {}", host(k).name, r.err));
        }
    }

    const RunPlan& m_plan;
    const RunRecord& m_record;
    const HostsRunOptions& m_options;
    std::vector<Descriptor> m_blobs;
    std::vector<std::vector<Descriptor>> m_missing;
    std::vector<NodeProcess> m_nodes;
    std::unique_ptr<ProcessLogs> m_logs;
    std::mutex m_inputs_mutex;
    bool m_started_ok = false;
    bool m_torn_down = false;
    JobEnd m_end = JobEnd::succeeded;
    std::optional<RankExit> m_rank_reported;
    std::vector<InputTree> m_inputs;                // the job's local inputs (hosts_inputs.h)
    std::map<std::string, Digest> m_input_digests;  // local path -> digest, for the node specs
};

}  // namespace

HostsRunOutcome run_hosts(const RunPlan& plan, const RunRecord& record,
                          const HostsRunOptions& options) {
    if (options.hosts.size() < plan.nodes.size()) {
        throw Error(fmt::format("{} nodes but {} hosts", plan.nodes.size(), options.hosts.size()),
                    "", ExitCode::run_failed);
    }
    // A host that goes away mid-stream must not kill envpack: write() reports EPIPE instead.
    // (Children get default signal dispositions back: core/child.h.)
    ::signal(SIGPIPE, SIG_IGN);
    HostsRun run(plan, record, options);
    return run.run();
}

}  // namespace envpack
