#include "launcher/local_backend.h"

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <future>
#include <memory>
#include <optional>
#include <system_error>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"
#include "core/process_runner.h"
#include "core/process_tree.h"
#include "core/signals.h"
#include "core/supervisor.h"
#include "launcher/broker.h"
#include "launcher/command_check.h"
#include "launcher/mpi_python_hook.h"
#include "launcher/oci_config.h"
#include "launcher/rank_exits.h"

namespace envpack {

namespace fs = std::filesystem;

std::string log_name(std::string_view label) {
    std::string out;
    for (char c : label) {
        out += (c == ' ' || c == '/') ? '-' : c;
    }
    return out.empty() ? "main" : out;
}

SupervisorOptions supervisor_options(const RunPlan& plan, std::chrono::milliseconds grace) {
    SupervisorOptions so;
    so.grace = grace;
    if (plan.timeout_seconds) {
        so.timeout = std::chrono::seconds(*plan.timeout_seconds);
    }
    return so;
}

ProcessSpec process_spec(const RunPlan& plan, const PlanProcess& p, std::vector<std::string> argv,
                         ProcessLogs& logs) {
    ProcessSpec spec;
    spec.label = p.label;
    spec.argv = std::move(argv);
    const std::string label = plan.processes.size() > 1 ? p.label : "";
    spec.options.out = ChildOutput::lines(logs.sink(label, log_name(p.label)));
    spec.options.err = ChildOutput::merge();
    spec.lifetime = p.must_succeed ? Lifetime::task : Lifetime::service;
    return spec;
}

std::string_view end_reason(JobEnd end) {
    switch (end) {
        case JobEnd::succeeded:
            return "succeeded";
        case JobEnd::failed:
            return "failed";
        case JobEnd::timed_out:
            return "timeout";
        case JobEnd::interrupted:
            return "signal";
    }
    return "failed";
}

int end_exit_code(const JobResult& result) {
    return result.end == JobEnd::timed_out ? static_cast<int>(ExitCode::run_timeout)
                                           : result.exit_code;
}

void prepare_mounts(const PlanContainer& c, std::string_view missing_hint) {
    for (const auto& m : c.mounts) {
        if (m.make_source) {
            make_dirs(m.source);
        }
        if (!m.copy_from.empty()) {
            make_dirs(fs::path(m.source).parent_path());
            auto r = run_process({"cp", "-a", "--reflink=auto", "-T", m.copy_from, m.source});
            if (!r.ok()) {
                throw Error(
                    fmt::format("copy the input {} to {}: {}", m.copy_from, m.source, r.err), "",
                    ExitCode::run_failed);
            }
        }
        if (m.type == "bind" && !fs::exists(m.source)) {
            throw Error(
                fmt::format("the mount source {} (for {}) does not exist", m.source, m.destination),
                std::string(missing_hint), ExitCode::run_failed);
        }
    }
}

OciOptions host_oci_options() {
    OciOptions o;
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY) {
        o.nofile = std::min<std::uint64_t>(o.nofile, rl.rlim_max);
    }
    return o;
}

namespace {

// Calls `fn` on every item, each on its own thread, and waits for all; rethrows the first
// failure after all have ended (a failed node start must not leave another half-made).
template <class T, class F>
void for_each_in_parallel(const std::vector<T>& items, F fn) {
    if (items.size() == 1) {
        fn(items.front());
        return;
    }
    std::vector<std::future<void>> work;
    for (const auto& item : items) {
        work.push_back(std::async(std::launch::async, [&fn, item] { fn(item); }));
    }
    std::exception_ptr first;
    for (auto& w : work) {
        try {
            w.get();
        } catch (...) {
            if (!first) {
                first = std::current_exception();
            }
        }
    }
    if (first) {
        std::rethrow_exception(first);
    }
}

std::string env_value(const EnvList& env, std::string_view key) {
    std::string value;
    for (const auto& [k, v] : env) {
        if (k == key) {
            value = v;  // later entries win
        }
    }
    return value;
}

// A container path that a bind mount covers: its contents come from the host, not the image.
bool under_mount(const PlanContainer& c, std::string_view path) {
    for (const auto& m : c.mounts) {
        const auto& d = m.destination;
        if (path == d || (path.starts_with(d) && path.size() > d.size() && path[d.size()] == '/')) {
            return true;
        }
    }
    return false;
}

// The image's User when numeric; a name would need the image's /etc/passwd: root instead.
OciUser user_of(const PlanContainer& c) {
    return parse_numeric_user(c.user).value_or(OciUser{});
}

}  // namespace

void check_plan_commands(const RunPlan& plan, const fs::path& rootfs) {
    for (const auto& p : plan.processes) {
        if (p.launch == Launch::by_mpirun) {
            continue;
        }
        const auto& c = plan.containers.at(static_cast<size_t>(p.node));
        for (const auto& program : programs_of(p.argv)) {
            std::string cwd = p.cwd.empty() ? "/" : p.cwd;
            std::string as_path = program.starts_with('/') ? program : cwd + "/" + program;
            if (program.find('/') != std::string::npos && under_mount(c, as_path)) {
                continue;  // the job's own files (code, inputs): checked by the kernel
            }
            std::string path_var = env_value(p.env, "PATH");
            auto verdict = check_command(rootfs, program, path_var, cwd);
            if (verdict == CommandCheck::not_found) {
                throw Error(fmt::format("{}: `{}` is not in the image {} (PATH={})", p.label,
                                        program, plan.image, path_var),
                            "install it in the image, or fix the job's command",
                            ExitCode::command_not_found);
            }
            if (verdict == CommandCheck::not_executable) {
                throw Error(fmt::format("{}: `{}` is in the image {} but is not executable",
                                        p.label, program, plan.image),
                            "", ExitCode::command_not_runnable);
            }
        }
    }
}

namespace {

// Everything a run made on the host, undone in reverse order however the run ends.
class LocalRun {
  public:
    LocalRun(const RunPlan& plan, const RunRecord& record, const LocalRunOptions& options)
        : m_plan(plan), m_record(record), m_options(options), m_driver(options.runtime) {}

    ~LocalRun() {
        try {
            teardown();
        } catch (...) {
        }
    }

    LocalRunOutcome run() {
        prepare();
        LocalRunOutcome outcome = execute();
        teardown();
        return outcome;
    }

  private:
    void prepare() {
        write_file_atomic(m_record.dir() / "hosts",
                          m_plan.etc_hosts.empty() ? "127.0.0.1 localhost\n" : m_plan.etc_hosts,
                          Durability::none);
        if (!m_plan.hostfile.empty()) {
            write_file_atomic(m_record.dir() / "hostfile", m_plan.hostfile, Durability::none);
        }
        if (m_plan.distribution == DistributionType::mpi) {
            make_dirs(m_record.dir() / "python");
            write_file_atomic(m_record.dir() / "python" / "sitecustomize.py", mpi_sitecustomize(),
                              Durability::none);
        }
        start_broker();
        for (const auto& c : m_plan.containers) {
            make_dirs(c.bundle);
            m_rootfs.push_back(std::make_unique<RunRootfs>(
                m_options.image_rootfs, c.rootfs.parent_path(), m_options.rootfs_mode));
            if (m_rootfs.back()->path() != c.rootfs) {
                throw Error(fmt::format("rootfs at {}, the plan says {}",
                                        m_rootfs.back()->path().string(), c.rootfs.string()));
            }
            prepare_mounts(c, "check the job's inputs");
            write_file_atomic(c.bundle / "config.json",
                              render_oci_config(c, user_of(c), host_oci_options()),
                              Durability::none);
        }
        check_plan_commands(m_plan, m_plan.containers.front().rootfs);
    }

    // mpirun in node 0 reaches the other node containers through the broker (broker.h).
    void start_broker() {
        if (m_plan.distribution != DistributionType::mpi || m_plan.containers.size() < 2) {
            return;
        }
        BrokerOptions bo;
        bo.dir = m_record.dir() / "broker";
        bo.work_dir = m_record.dir() / "nodes" / "broker";
        bo.runtime = m_options.runtime;
        for (const auto& c : m_plan.containers) {
            BrokerTarget t;
            t.node = m_plan.nodes.at(static_cast<size_t>(c.node)).name;
            t.container_id = c.id;
            for (const auto& [k, v] : c.env) {
                t.process.env[k] = v;
            }
            t.process.cwd = c.cwd.empty() ? "/" : c.cwd;
            t.process.uid = user_of(c).uid;
            t.process.gid = user_of(c).gid;
            bo.targets.push_back(std::move(t));
        }
        bo.ready = m_nodes_started;
        m_broker = std::make_unique<Broker>(std::move(bo));
    }

    // SIGKILL to every node container (a stop, or a failed rank): their processes go with them.
    void kill_containers() const {
        for (const auto& c : m_plan.containers) {
            m_driver.kill(c.id, SIGKILL);
        }
    }

    ProcessSpec spec_for(const PlanProcess& p, std::vector<std::string> argv) {
        return process_spec(m_plan, p, std::move(argv), *m_logs);
    }

    LocalRunOutcome execute() {
        m_logs = std::make_unique<ProcessLogs>(m_record.logs_dir(), m_options.echo);
        ChildRunner runner(m_options.signals);
        SupervisorOptions so = supervisor_options(m_plan, m_options.grace);
        so.on_stop = [this](JobEnd) { kill_containers(); };
        Supervisor supervisor(runner, so);
        const RuntimeCommands& rc = m_driver.commands();
        // The node containers start side by side (each is a runtime create + start), and
        // beside the containers whose own process is the job's (an MPI job's node 0, whose
        // mpirun reaches the others through the broker once they are started).
        std::vector<const PlanContainer*> nodes;
        for (const auto& c : m_plan.containers) {
            if (!c.init_is_job) {
                m_started.push_back(c.id);
                nodes.push_back(&c);
            }
        }
        auto creating = std::async(std::launch::async, [this, nodes] {
            try {
                for_each_in_parallel(nodes, [this](const PlanContainer* c) {
                    m_driver.create_and_start(c->id, c->bundle);
                });
                m_nodes_promise.set_value();
            } catch (...) {
                m_nodes_promise.set_exception(std::current_exception());
                throw;
            }
        });
        for (const auto& p : m_plan.processes) {
            if (p.launch == Launch::init) {
                const auto& c = m_plan.containers.at(static_cast<size_t>(p.node));
                m_started.push_back(c.id);
                supervisor.start(spec_for(p, rc.run(c.id, c.bundle)));
            }
        }
        creating.get();  // on failure the supervisor stops what it started
        size_t n = 0;
        for (const auto& p : m_plan.processes) {
            const auto& c = m_plan.containers.at(static_cast<size_t>(p.node));
            if (p.launch == Launch::exec) {
                ExecProcess e;
                e.args = p.argv;
                for (const auto& [k, v] : p.env) {
                    e.env[k] = v;
                }
                e.cwd = p.cwd.empty() ? "/" : p.cwd;
                e.uid = user_of(c).uid;
                e.gid = user_of(c).gid;
                fs::path json = c.bundle / fmt::format("process-{}.json", n++);
                write_file_atomic(json, render_exec_process(e), Durability::none);
                supervisor.start(spec_for(p, rc.exec(c.id, json)));
            }
        }
        if (m_options.on_running) {
            m_options.on_running();
        }
        // A rank that fails (rank_exits.h) stops every container at once, whatever its MPI
        // launcher does next; its code becomes the run's.
        const auto exit_dirs = rank_exit_dirs(m_plan);
        std::optional<RankExitWatcher> watcher;
        if (!exit_dirs.empty()) {
            watcher.emplace(exit_dirs, [this](const RankExit&) { kill_containers(); });
        }
        JobResult result = supervisor.run();
        if (watcher) {
            watcher->stop();
        }
        LocalRunOutcome outcome;
        outcome.exit_code = end_exit_code(result);
        outcome.reason = end_reason(result.end);
        outcome.message = result.summary();
        if (auto rank = failed_rank(result.end, exit_dirs)) {
            outcome.exit_code = rank->exit_code();
            outcome.message = rank->describe() + "; " + outcome.message;
        }
        outcome.rootfs = m_rootfs.empty() ? "" : to_string(m_rootfs.front()->mode());
        if (auto err = m_logs->error()) {
            outcome.message += "; " + *err;
        }
        return outcome;
    }

    void teardown() {
        if (m_torn_down) {
            return;
        }
        m_torn_down = true;
        std::optional<Error> first;
        if (m_broker) {
            m_broker->stop();
        }
        std::vector<const PlanContainer*> all;
        for (const auto& c : m_plan.containers) {
            all.push_back(&c);
        }
        auto destroy_containers = [&] {
            try {
                for_each_in_parallel(all, [this](const PlanContainer* c) {
                    if (m_driver.known(c->id)) {
                        m_driver.destroy(c->id);
                    }
                });
            } catch (const Error& e) {
                first = first.value_or(e);
            }
        };
        destroy_containers();
        kill_leftovers();
        // A stop that lands while `runc run`/`create` is still setting a container up finds no
        // container in the first sweep; the runtime may finish creating it before it is killed.
        destroy_containers();
        if (m_options.on_containers_removed) {
            m_options.on_containers_removed();
        }
        // Side by side: each is an overlay unmount and a removal of its writable layer.
        std::vector<RunRootfs*> roots;
        for (auto& r : m_rootfs) {
            roots.push_back(r.get());
        }
        try {
            for_each_in_parallel(roots, [](RunRootfs* r) { r->release(); });
        } catch (const Error& e) {
            first = first.value_or(e);
        }
        m_rootfs.clear();
        if (first) {
            throw *first;
        }
    }

    const RunPlan& m_plan;
    const RunRecord& m_record;
    const LocalRunOptions& m_options;
    RuntimeDriver m_driver;
    std::vector<std::unique_ptr<RunRootfs>> m_rootfs;
    std::unique_ptr<ProcessLogs> m_logs;
    std::unique_ptr<Broker> m_broker;
    // Set once the pause-running node containers are started (or failed to); the broker's
    // requests wait for it.
    std::promise<void> m_nodes_promise;
    std::shared_future<void> m_nodes_started = m_nodes_promise.get_future().share();
    std::vector<std::string> m_started;
    bool m_torn_down = false;
};

}  // namespace

LocalRunOutcome run_local(const RunPlan& plan, const RunRecord& record,
                          const LocalRunOptions& options) {
    if (plan.containers.empty()) {
        throw Error("the plan has no containers", "", ExitCode::run_failed);
    }
    LocalRun run(plan, record, options);
    return run.run();
}

}  // namespace envpack
