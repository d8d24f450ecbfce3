#include "core/child.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/detail/child_state.h"
#include "core/error.h"
#include "core/process.h"
#include "core/process_tree.h"
#include "core/signals.h"

extern char** environ;

namespace envpack {

using detail::ChildState;
using detail::UniqueFd;

ChildInput ChildInput::data(std::string data) {
    ChildInput in(Kind::data);
    in.m_data = std::move(data);
    return in;
}

ChildInput ChildInput::fd(int fd) {
    ChildInput in(Kind::fd);
    in.m_fd = fd;
    return in;
}

ChildOutput ChildOutput::file(std::filesystem::path path, FileWrite mode) {
    ChildOutput out(Kind::file);
    out.m_path = std::move(path);
    out.m_write = mode;
    return out;
}

ChildOutput ChildOutput::fd(int fd) {
    ChildOutput out(Kind::fd);
    out.m_fd = fd;
    return out;
}

ChildOutput ChildOutput::lines(LineSink sink) {
    ChildOutput out(Kind::lines);
    out.m_lines = std::move(sink);
    return out;
}

ChildOutput ChildOutput::chunks(ChunkSink sink) {
    ChildOutput out(Kind::chunks);
    out.m_chunks = std::move(sink);
    return out;
}

ExitStatus ExitStatus::from_wait_status(int status) {
    if (WIFSIGNALED(status)) {
        return killed(WTERMSIG(status));
    }
    return exited(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

std::string ExitStatus::to_string() const {
    if (signal != 0) {
        return fmt::format("killed by {}", signal_name(signal));
    }
    if (code < 0) {
        return "exit status lost";
    }
    return fmt::format("exit code {}", code);
}

void LineSplitter::feed(std::string_view bytes, const LineSink& sink) {
    while (!bytes.empty()) {
        auto nl = bytes.find('\n');
        if (nl == std::string_view::npos) {
            m_partial.append(bytes);
            while (m_partial.size() >= k_max_line) {
                sink(std::string_view(m_partial).substr(0, k_max_line));
                m_partial.erase(0, k_max_line);
            }
            return;
        }
        if (m_partial.empty()) {
            sink(bytes.substr(0, nl));
        } else {
            m_partial.append(bytes.substr(0, nl));
            sink(m_partial);
            m_partial.clear();
        }
        bytes.remove_prefix(nl + 1);
    }
}

void LineSplitter::finish(const LineSink& sink) {
    if (!m_partial.empty()) {
        sink(m_partial);
        m_partial.clear();
    }
}

namespace {

// glibc 2.36's <sys/pidfd.h> declares these without C linkage: call the kernel directly.
int pidfd_open_pid(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}
int pidfd_signal(int pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// Everything posix_spawn needs, kept alive until the call, and the parent's pipe ends after it.
class SpawnPlan {
  public:
    SpawnPlan() {
        posix_spawn_file_actions_init(&m_actions);
        posix_spawnattr_init(&m_attr);
    }
    ~SpawnPlan() {
        posix_spawn_file_actions_destroy(&m_actions);
        posix_spawnattr_destroy(&m_attr);
    }
    SpawnPlan(const SpawnPlan&) = delete;
    SpawnPlan& operator=(const SpawnPlan&) = delete;

    // Keeps `fd` (owned) open until the spawn, as the source of a dup2 onto `target`.
    void dup_owned(UniqueFd fd, int target) {
        m_dups.emplace_back(fd.get(), target);
        m_owned.push_back(std::move(fd));
    }
    // Duplicates a borrowed fd (close-on-exec, numbered above every target) as a dup2 source.
    void dup_borrowed(int fd, int target, const std::string& what) {
        int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, m_min_source);
        if (copy < 0) {
            throw_errno(fmt::format("duplicate fd {} for {}", fd, what), "", errno);
        }
        dup_owned(UniqueFd(copy), target);
    }
    void set_min_source(int n) { m_min_source = n; }
    int min_source() const { return m_min_source; }

    posix_spawn_file_actions_t* actions() { return &m_actions; }
    posix_spawnattr_t* attr() { return &m_attr; }
    // Adds the dup2 actions, then closes every fd above the targets.
    void finish_actions() {
        for (auto [from, to] : m_dups) {
            posix_spawn_file_actions_adddup2(&m_actions, from, to);
        }
        posix_spawn_file_actions_addclosefrom_np(&m_actions, m_min_source);
    }
    void close_sources() { m_owned.clear(); }

  private:
    posix_spawn_file_actions_t m_actions;
    posix_spawnattr_t m_attr;
    std::vector<std::pair<int, int>> m_dups;
    std::vector<UniqueFd> m_owned;
    int m_min_source = 3;
};

std::pair<UniqueFd, UniqueFd> make_pipe() {
    int fd[2];
    if (::pipe2(fd, O_CLOEXEC) != 0) {
        throw_errno("pipe", "", errno);
    }
    return {UniqueFd(fd[0]), UniqueFd(fd[1])};
}

UniqueFd open_for_child(const std::filesystem::path& path, int flags, const std::string& program) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw_errno(fmt::format("start `{}`: open", program), path.string(), errno);
    }
    return UniqueFd(fd);
}

// Sets up one of stdout/stderr (target 1 or 2) and, for sinks, the parent's end.
void plan_output(SpawnPlan& plan, const ChildOutput& spec, int target, detail::OutputPipe& pipe,
                 const std::string& program) {
    switch (spec.kind()) {
        case ChildOutput::Kind::inherit:
            break;  // fds 0-2 pass through as they are
        case ChildOutput::Kind::null:
            plan.dup_owned(open_for_child("/dev/null", O_WRONLY, program), target);
            break;
        case ChildOutput::Kind::file: {
            int mode = spec.file_write() == FileWrite::append ? O_APPEND : O_TRUNC;
            plan.dup_owned(open_for_child(spec.path(), O_WRONLY | O_CREAT | mode, program), target);
            break;
        }
        case ChildOutput::Kind::fd:
            plan.dup_borrowed(spec.borrowed_fd(), target, program);
            break;
        case ChildOutput::Kind::lines:
        case ChildOutput::Kind::chunks: {
            auto [read_end, write_end] = make_pipe();
            plan.dup_owned(std::move(write_end), target);
            pipe.fd = std::move(read_end);
            pipe.lines = spec.line_sink();
            pipe.chunks = spec.chunk_sink();
            break;
        }
        case ChildOutput::Kind::merge:
            throw Error(fmt::format("start `{}`: only stderr can be merged into stdout", program));
    }
}

std::vector<std::string> child_environment(const ChildOptions& options) {
    std::vector<std::string> env;
    if (options.env_base == EnvBase::inherit) {
        for (char** e = environ; *e != nullptr; ++e) {
            std::string_view kv(*e);
            if (!options.env.contains(std::string(kv.substr(0, kv.find('='))))) {
                env.emplace_back(kv);
            }
        }
    }
    for (const auto& [k, v] : options.env) {
        env.push_back(k + "=" + v);
    }
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) {
        out.push_back(s.data());
    }
    out.push_back(nullptr);
    return out;
}

}  // namespace

Child Child::spawn(const std::vector<std::string>& argv, ChildOptions options) {
    if (argv.empty()) {
        throw Error("start a process: empty argument list");
    }
    const std::string& program = argv[0];
    // A name is searched in our PATH; a path is used as is (relative to the child's cwd).
    std::optional<std::string> path = program;
    if (program.find('/') == std::string::npos) {
        path = find_in_path(program);
        if (!path) {
            throw Error(fmt::format("start `{}`: not found in PATH", program),
                        fmt::format("install {} or put it on PATH", program));
        }
    }
    if (options.cwd) {
        std::error_code ec;
        if (!std::filesystem::is_directory(*options.cwd, ec)) {
            throw Error(fmt::format("start `{}`: working directory `{}` is not a directory",
                                    program, options.cwd->string()));
        }
    }

    auto state = std::make_unique<ChildState>();
    state->argv = argv;
    SpawnPlan plan;
    int max_target = 2;
    for (const auto& m : options.extra_fds) {
        max_target = std::max(max_target, m.child_fd);
    }
    plan.set_min_source(max_target + 1);

    switch (options.in.kind()) {
        case ChildInput::Kind::null:
            plan.dup_owned(open_for_child("/dev/null", O_RDONLY, program), 0);
            break;
        case ChildInput::Kind::data: {
            auto [read_end, write_end] = make_pipe();
            plan.dup_owned(std::move(read_end), 0);
            ::fcntl(write_end.get(), F_SETFL, ::fcntl(write_end.get(), F_GETFL) | O_NONBLOCK);
            state->in_fd = std::move(write_end);
            state->in_data = options.in.bytes();
            break;
        }
        case ChildInput::Kind::inherit:
            break;
        case ChildInput::Kind::fd:
            plan.dup_borrowed(options.in.borrowed_fd(), 0, program);
            break;
    }
    plan_output(plan, options.out, 1, state->out, program);
    if (options.err.kind() != ChildOutput::Kind::merge) {
        plan_output(plan, options.err, 2, state->err, program);
    }
    for (const auto& m : options.extra_fds) {
        plan.dup_borrowed(m.parent_fd, m.child_fd, program);
    }
    plan.finish_actions();
    if (options.err.kind() == ChildOutput::Kind::merge) {
        // 2>&1, after fd 1 is in place.
        posix_spawn_file_actions_adddup2(plan.actions(), 1, 2);
    }
    if (options.cwd) {
        posix_spawn_file_actions_addchdir_np(plan.actions(), options.cwd->c_str());
    }

    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (options.grouping == Grouping::new_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(plan.attr(), 0);
    } else if (options.grouping == Grouping::new_session) {
        flags |= POSIX_SPAWN_SETSID;
    }
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigdefault(plan.attr(), &all);
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigmask(plan.attr(), &empty);
    posix_spawnattr_setflags(plan.attr(), flags);

    auto env = child_environment(options);
    auto envp = c_strings(env);
    std::vector<std::string> args = argv;
    auto argp = c_strings(args);

    {
        std::lock_guard lock(detail::child_table_mutex());
        pid_t pid = -1;
        int rc = ::posix_spawn(&pid, path->c_str(), plan.actions(), plan.attr(), argp.data(),
                               envp.data());
        if (rc != 0) {
            throw Error(fmt::format("start `{}`: {}", program, std::strerror(rc)), "");
        }
        state->pid = pid;
        int pidfd = pidfd_open_pid(pid);
        if (pidfd < 0) {
            int err = errno;
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            throw_errno(fmt::format("start `{}`: pidfd_open", program), std::to_string(pid), err);
        }
        state->pidfd.reset(pidfd);
        detail::child_table().insert(pid);
    }
    state->pgid = options.grouping == Grouping::same_group ? ::getpgrp() : state->pid;
    plan.close_sources();
    return Child(std::move(state));
}

Child::Child(std::unique_ptr<ChildState> state) : m_state(std::move(state)) {}
Child::Child(Child&&) noexcept = default;
Child& Child::operator=(Child&& other) noexcept {
    if (this != &other) {
        Child dying(std::move(*this));
        m_state = std::move(other.m_state);
    }
    return *this;
}

Child::~Child() {
    if (!m_state || !m_state->running()) {
        return;
    }
    kill_tree();
    // SIGKILL cannot be ignored: this wait is short.
    int status = 0;
    while (::waitpid(m_state->pid, &status, 0) < 0 && errno == EINTR) {
    }
    m_state->status = ExitStatus::from_wait_status(status);
    m_state->close_pipes();
    std::lock_guard lock(detail::child_table_mutex());
    detail::child_table().erase(m_state->pid);
}

pid_t Child::pid() const {
    return m_state->pid;
}
const std::vector<std::string>& Child::argv() const {
    return m_state->argv;
}
pid_t Child::process_group() const {
    return m_state->pgid;
}
bool Child::exited() const {
    return m_state->status.has_value();
}
std::optional<ExitStatus> Child::status() const {
    return m_state->status;
}

ExitStatus Child::wait() {
    while (!m_state->status) {
        detail::pump({m_state.get()}, {}, std::nullopt, std::nullopt);
    }
    return *m_state->status;
}

std::optional<ExitStatus> Child::try_wait() {
    if (!m_state->status) {
        detail::pump({m_state.get()}, {}, std::chrono::steady_clock::now(), std::nullopt);
    }
    return m_state->status;
}

std::optional<ExitStatus> Child::wait_for(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!m_state->status && std::chrono::steady_clock::now() < deadline) {
        detail::pump({m_state.get()}, {}, deadline, std::nullopt);
    }
    return m_state->status;
}

void Child::signal(int sig) {
    if (m_state->running()) {
        pidfd_signal(m_state->pidfd.get(), sig);
    }
}

void Child::signal_group(int sig) {
    if (!m_state->running()) {
        return;
    }
    if (m_state->pgid == ::getpgrp()) {
        signal(sig);
    } else {
        ::kill(-m_state->pgid, sig);
    }
}

ExitStatus Child::terminate(std::chrono::milliseconds grace) {
    signal_group(SIGTERM);
    if (auto status = wait_for(grace)) {
        return *status;
    }
    kill_tree();
    return wait();
}

void Child::kill_tree() {
    if (m_state->running()) {
        envpack::kill_tree(m_state->pid, KillRoot::yes, {});
    }
}

pid_t Child::detach() {
    m_state->detached = true;
    m_state->close_pipes();
    m_state->in_fd.reset();
    std::lock_guard lock(detail::child_table_mutex());
    detail::child_table().erase(m_state->pid);
    return m_state->pid;
}

}  // namespace envpack
