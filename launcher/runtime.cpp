#include "launcher/runtime.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"
#include "launcher/oci_config.h"

extern char** environ;

namespace envpack {

namespace {

Error runtime_error(std::string message, std::string hint = {}) {
    return Error(std::move(message), std::move(hint), ExitCode::run_failed);
}

// Whether `path` is a mount point of the given filesystem type in this mount namespace.
bool mounted_as(std::string_view path, std::string_view fstype) {
    std::string mounts;
    try {
        mounts = read_file("/proc/self/mounts");
    } catch (const Error&) {
        return false;
    }
    size_t pos = 0;
    while (pos < mounts.size()) {
        size_t end = mounts.find('\n', pos);
        if (end == std::string::npos) {
            end = mounts.size();
        }
        std::string_view line(mounts.data() + pos, end - pos);
        // device mountpoint fstype options ...
        size_t a = line.find(' ');
        size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
        size_t c = b == std::string_view::npos ? b : line.find(' ', b + 1);
        if (c != std::string_view::npos && line.substr(a + 1, b - a - 1) == path &&
            line.substr(b + 1, c - b - 1) == fstype) {
            return true;
        }
        pos = end + 1;
    }
    return false;
}

}  // namespace

RuntimeChoice parse_runtime_choice(std::string_view text) {
    if (text == "auto") {
        return RuntimeChoice::automatic;
    }
    if (text == "runc") {
        return RuntimeChoice::runc;
    }
    if (text == "crun") {
        return RuntimeChoice::crun;
    }
    throw bad_input(fmt::format("unknown container runtime `{}`", text),
                    "envpack.runtime (or ENVPACK_RUNTIME) is one of auto, runc, crun");
}

std::string to_string(RuntimeChoice choice) {
    switch (choice) {
        case RuntimeChoice::automatic:
            return "auto";
        case RuntimeChoice::runc:
            return "runc";
        case RuntimeChoice::crun:
            return "crun";
    }
    return "auto";
}

std::string to_string(RuntimeKind kind) {
    return kind == RuntimeKind::crun ? "crun" : "runc";
}

HostFacts probe_host_facts() {
    HostFacts facts;
    if (auto p = find_in_path("runc")) {
        facts.runc = *p;
    }
    if (auto p = find_in_path("crun")) {
        facts.crun = *p;
    }
    facts.hybrid_cgroups = mounted_as("/sys/fs/cgroup/unified", "cgroup2");
    facts.root = ::geteuid() == 0;
    return facts;
}

Runtime select_runtime(RuntimeChoice choice, const HostFacts& facts) {
    auto make_crun = [&] {
        Runtime r{RuntimeKind::crun, *facts.crun, {}, CgroupWorkaround::none};
        if (facts.hybrid_cgroups) {
            r.global_args = {"--cgroup-manager=disabled"};
            r.workaround = CgroupWorkaround::hybrid;
        }
        return r;
    };
    switch (choice) {
        case RuntimeChoice::runc:
            if (!facts.runc) {
                throw runtime_error("the container runtime `runc` is not installed",
                                    "install runc, or choose crun (envpack.runtime / "
                                    "ENVPACK_RUNTIME)");
            }
            return Runtime{RuntimeKind::runc, *facts.runc, {}, CgroupWorkaround::none};
        case RuntimeChoice::crun:
            if (!facts.crun) {
                throw runtime_error("the container runtime `crun` is not installed",
                                    "install crun, or choose runc (envpack.runtime / "
                                    "ENVPACK_RUNTIME)");
            }
            return make_crun();
        case RuntimeChoice::automatic:
            // crun first: a C runtime starts a container and enters one several times faster
            // than runc's Go runtime re-executing itself (bench/multinode.sh, bench/run.sh).
            if (facts.crun) {
                return make_crun();
            }
            if (facts.runc) {
                return Runtime{RuntimeKind::runc, *facts.runc, {}, CgroupWorkaround::none};
            }
            throw runtime_error("no container runtime found (looked for runc and crun in PATH)",
                                "install runc or crun (Debian: apt-get install runc)");
    }
    throw runtime_error("no container runtime");
}

RuntimeChoice runtime_choice_from(std::optional<std::string_view> job_value) {
    if (const char* e = std::getenv("ENVPACK_RUNTIME"); e != nullptr && *e != '\0') {
        return parse_runtime_choice(e);
    }
    return job_value ? parse_runtime_choice(*job_value) : RuntimeChoice::automatic;
}

std::string render_exec_process(const ExecProcess& process) {
    nlohmann::ordered_json env = nlohmann::ordered_json::array();
    for (const auto& [k, v] : process.env) {
        env.push_back(k + "=" + v);
    }
    nlohmann::ordered_json j = {
        {"terminal", false},    {"user", {{"uid", process.uid}, {"gid", process.gid}}},
        {"args", process.args}, {"env", env},
        {"cwd", process.cwd},   {"noNewPrivileges", true},
    };
    return j.dump(1) + "\n";
}

std::vector<std::string> RuntimeCommands::base() const {
    std::vector<std::string> argv{m_runtime.binary.string()};
    argv.insert(argv.end(), m_runtime.global_args.begin(), m_runtime.global_args.end());
    return argv;
}

std::vector<std::string> RuntimeCommands::run(std::string_view id,
                                              const std::filesystem::path& bundle) const {
    auto argv = base();
    argv.insert(argv.end(), {"run", "--bundle", bundle.string(), std::string(id)});
    return argv;
}

std::vector<std::string> RuntimeCommands::create(std::string_view id,
                                                 const std::filesystem::path& bundle,
                                                 const std::filesystem::path& pid_file) const {
    auto argv = base();
    argv.insert(argv.end(), {"create", "--bundle", bundle.string(), "--pid-file", pid_file.string(),
                             std::string(id)});
    return argv;
}

std::vector<std::string> RuntimeCommands::start(std::string_view id) const {
    auto argv = base();
    argv.insert(argv.end(), {"start", std::string(id)});
    return argv;
}

std::vector<std::string> RuntimeCommands::exec(std::string_view id,
                                               const std::filesystem::path& process_json) const {
    auto argv = base();
    argv.insert(argv.end(), {"exec", "--process", process_json.string(), std::string(id)});
    return argv;
}

std::vector<std::string> RuntimeCommands::kill(std::string_view id, int signal) const {
    auto argv = base();
    argv.insert(argv.end(), {"kill", std::string(id), std::to_string(signal)});
    return argv;
}

std::vector<std::string> RuntimeCommands::remove(std::string_view id) const {
    auto argv = base();
    argv.insert(argv.end(), {"delete", "--force", std::string(id)});
    return argv;
}

std::vector<std::string> RuntimeCommands::state(std::string_view id) const {
    auto argv = base();
    argv.insert(argv.end(), {"state", std::string(id)});
    return argv;
}

std::vector<std::string> RuntimeCommands::list() const {
    auto argv = base();
    argv.insert(argv.end(), {"list", "--format", "json"});
    return argv;
}

namespace {

// Runs `argv` with stdin from /dev/null and stdout/stderr appended to `log`: a detached container's
// init inherits them, so they must not be pipes someone waits on.
int run_logged(const std::vector<std::string>& argv, const std::filesystem::path& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw_errno("start", argv[0], rc);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string log_tail(const std::filesystem::path& log) {
    std::string text;
    try {
        text = read_file(log);
    } catch (const Error&) {
    }
    if (text.size() > 2000) {
        text = text.substr(text.size() - 2000);
    }
    return text;
}

ProcessResult run_quiet(const std::vector<std::string>& argv) {
    ProcessOptions options;
    options.timeout = std::chrono::seconds(30);
    return run_process(argv, options);
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    return s;
}

}  // namespace

void RuntimeDriver::create_and_start(std::string_view id,
                                     const std::filesystem::path& bundle) const {
    auto name = to_string(m_commands.runtime().kind);
    auto log = bundle / "init.log";
    if (run_logged(m_commands.create(id, bundle, bundle / "init.pid"), log) != 0) {
        throw runtime_error(fmt::format("{} create {}: {}", name, id, trimmed(log_tail(log))),
                            fmt::format("the bundle is {}", bundle.string()));
    }
    auto started = run_quiet(m_commands.start(id));
    if (!started.ok()) {
        destroy(id);
        throw runtime_error(
            fmt::format("{} start {}: {}", name, id, trimmed(started.err + started.out)));
    }
}

// Where the runtime keeps one directory per container it knows: `--root` when given, else its
// default (/run/runc, /run/crun as root; $XDG_RUNTIME_DIR/... otherwise). Empty when unknown.
static std::filesystem::path runtime_state_root(const Runtime& runtime) {
    for (std::size_t i = 0; i < runtime.global_args.size(); ++i) {
        const std::string& a = runtime.global_args[i];
        if (a == "--root" && i + 1 < runtime.global_args.size()) {
            return runtime.global_args[i + 1];
        }
        if (a.starts_with("--root=")) {
            return a.substr(7);
        }
    }
    const char* name = runtime.kind == RuntimeKind::crun ? "crun" : "runc";
    if (::geteuid() == 0) {
        return std::filesystem::path("/run") / name;
    }
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    return xdg != nullptr && *xdg != '\0' ? std::filesystem::path(xdg) / name
                                          : std::filesystem::path();
}

bool RuntimeDriver::known(std::string_view id) const {
    if (auto root = runtime_state_root(m_commands.runtime()); !root.empty()) {
        std::error_code ec;
        if (std::filesystem::is_directory(root, ec)) {
            return std::filesystem::exists(root / id, ec) || ec;
        }
    }
    return state(id).has_value();
}

std::optional<ContainerStatus> RuntimeDriver::state(std::string_view id) const {
    // The runtime makes the container's state directory first thing on create and removes it on
    // delete: without it, the runtime does not know the container, and asking costs a process
    // (tens of milliseconds, the bulk of a short run's teardown).
    if (auto root = runtime_state_root(m_commands.runtime()); !root.empty()) {
        std::error_code ec;
        if (std::filesystem::is_directory(root, ec) && !std::filesystem::exists(root / id, ec) &&
            !ec) {
            return std::nullopt;
        }
    }
    auto r = run_quiet(m_commands.state(id));
    if (!r.ok()) {
        return std::nullopt;
    }
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.contains("status")) {
        return std::nullopt;
    }
    auto s = j["status"].get<std::string>();
    if (s == "creating") {
        return ContainerStatus::creating;
    }
    if (s == "created") {
        return ContainerStatus::created;
    }
    if (s == "running") {
        return ContainerStatus::running;
    }
    if (s == "paused") {
        return ContainerStatus::paused;
    }
    return ContainerStatus::stopped;
}

void RuntimeDriver::kill(std::string_view id, int signal) const {
    (void)run_quiet(m_commands.kill(id, signal));
}

void RuntimeDriver::destroy(std::string_view id) const {
    // One process in the common case: `delete --force` kills a running container itself.
    if (run_quiet(m_commands.remove(id)).ok() || !state(id)) {
        return;
    }
    kill(id, SIGKILL);
    for (int attempt = 0; attempt < 50; ++attempt) {
        auto r = run_quiet(m_commands.remove(id));
        if (r.ok() || !state(id)) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw Error(
        fmt::format("{} could not delete container {}", to_string(m_commands.runtime().kind), id),
        fmt::format("remove it by hand: {} delete --force {}", m_commands.runtime().binary.string(),
                    id));
}

std::vector<std::string> RuntimeDriver::list(std::string_view prefix) const {
    std::vector<std::string> ids;
    auto r = run_quiet(m_commands.list());
    if (!r.ok()) {
        return ids;
    }
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_array()) {
        return ids;  // runc prints `null` when there are none
    }
    for (const auto& c : j) {
        auto id = c.value("id", std::string());
        if (id.starts_with(prefix)) {
            ids.push_back(id);
        }
    }
    return ids;
}

void enter_private_mount_namespace(const Runtime& runtime) {
    if (::geteuid() != 0) {
        return;
    }
    if (::unshare(CLONE_NEWNS) != 0) {
        throw_errno("unshare", "mount namespace", errno);
    }
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        throw_errno("make / private in", "the run's mount namespace", errno);
    }
    hide_hybrid_cgroup2(runtime);
}

void hide_hybrid_cgroup2(const Runtime& runtime) {
    if (runtime.workaround == CgroupWorkaround::hybrid &&
        mounted_as("/sys/fs/cgroup/unified", "cgroup2")) {
        if (::umount2("/sys/fs/cgroup/unified", MNT_DETACH) != 0) {
            throw_errno("umount", "/sys/fs/cgroup/unified", errno,
                        "crun needs the hybrid cgroup v2 mount hidden; try runc");
        }
    }
}

}  // namespace envpack
