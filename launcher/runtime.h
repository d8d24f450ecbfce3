// The OCI runtime (runc or crun): which one to use on this host, and the command lines that drive
// it. Choosing is a pure function of probed host facts, so every case is a unit test; the commands
// are argv vectors the caller runs through the process layer (streaming ones: run, exec) or
// through `RuntimeDriver` (short ones: create, start, kill, delete, state).
//
// On these machines (hybrid cgroups, NOTES.md) runc works as is; crun works only with
// `--cgroup-manager=disabled`, no cgroup mount in the container, and `/sys/fs/cgroup/unified`
// unmounted in a private mount namespace. `enter_private_mount_namespace` does the last part for
// the calling process (and so for every runtime it starts).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace envpack {

enum class RuntimeKind { runc, crun };
enum class RuntimeChoice { automatic, runc, crun };

// "auto" | "runc" | "crun"; throws a bad-input Error naming the value otherwise.
RuntimeChoice parse_runtime_choice(std::string_view text);
std::string to_string(RuntimeChoice choice);
std::string to_string(RuntimeKind kind);

// What decides the choice, probed once by `probe_host_facts`.
struct HostFacts {
    std::optional<std::filesystem::path> runc;  // binaries found in PATH
    std::optional<std::filesystem::path> crun;
    bool hybrid_cgroups = false;  // a cgroup v2 hierarchy mounted at /sys/fs/cgroup/unified
    bool root = false;
};

HostFacts probe_host_facts();

enum class CgroupWorkaround { none, hybrid };

// A chosen runtime: its binary, the global options it needs here, and whether the process that
// starts it must first hide the hybrid cgroup v2 mount (crun on hybrid hosts).
struct Runtime {
    RuntimeKind kind = RuntimeKind::runc;
    std::filesystem::path binary;
    std::vector<std::string> global_args;  // e.g. --cgroup-manager=disabled
    CgroupWorkaround workaround = CgroupWorkaround::none;
    // config.json must not carry a cgroup mount (crun on hybrid hosts).
    bool drop_cgroup_mount() const { return workaround == CgroupWorkaround::hybrid; }
};

// `auto` prefers runc (works as is everywhere here), then crun with the workaround when the host
// is hybrid. An explicit choice whose binary is missing is an Error (exit 125) naming it.
Runtime select_runtime(RuntimeChoice choice, const HostFacts& facts);

// The choice from the job (`envpack.runtime`), overridden by $ENVPACK_RUNTIME when set.
RuntimeChoice runtime_choice_from(std::optional<std::string_view> job_value);

// One process entered into a running container (`runc exec --process FILE`).
struct ExecProcess {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string cwd = "/";
    unsigned uid = 0;
    unsigned gid = 0;
};

// The OCI `process` object for `exec --process` (the same shape config.json's `process` has),
// with the capabilities the node container's own process gets (oci_config.h).
std::string render_exec_process(const ExecProcess& process);

// Command lines for one runtime. Container IDs are the caller's (per run, so runs don't collide).
class RuntimeCommands {
  public:
    explicit RuntimeCommands(Runtime runtime) : m_runtime(std::move(runtime)) {}

    const Runtime& runtime() const { return m_runtime; }
    // Foreground: the container's own process; exits with its code, forwards signals.
    std::vector<std::string> run(std::string_view id, const std::filesystem::path& bundle) const;
    // Background container: created with its init waiting, then started.
    std::vector<std::string> create(std::string_view id, const std::filesystem::path& bundle,
                                    const std::filesystem::path& pid_file) const;
    std::vector<std::string> start(std::string_view id) const;
    // Foreground: a process entered into a running container; exits with its code.
    std::vector<std::string> exec(std::string_view id,
                                  const std::filesystem::path& process_json) const;
    std::vector<std::string> kill(std::string_view id, int signal) const;
    std::vector<std::string> remove(std::string_view id) const;  // delete --force
    std::vector<std::string> state(std::string_view id) const;
    std::vector<std::string> list() const;

  private:
    std::vector<std::string> base() const;
    Runtime m_runtime;
};

enum class ContainerStatus { creating, created, running, paused, stopped };

// Short runtime operations, run to completion through the process layer.
class RuntimeDriver {
  public:
    explicit RuntimeDriver(Runtime runtime) : m_commands(std::move(runtime)) {}
    const RuntimeCommands& commands() const { return m_commands; }

    // Creates and starts a background container; throws Error (with the runtime's stderr) if
    // either step fails.
    void create_and_start(std::string_view id, const std::filesystem::path& bundle) const;
    // nullopt when the runtime does not know the container.
    std::optional<ContainerStatus> state(std::string_view id) const;
    // Whether the runtime may know the container: its state directory exists (no process is
    // run), or, where that directory is not known, `state` says so.
    bool known(std::string_view id) const;
    // Best effort: a container that is already gone is not an error.
    void kill(std::string_view id, int signal) const;
    // delete --force (the runtime SIGKILLs a running container first); if that fails, SIGKILL
    // and retry; returns once the runtime no longer knows the container.
    void destroy(std::string_view id) const;
    // IDs the runtime knows that start with `prefix`.
    std::vector<std::string> list(std::string_view prefix) const;

  private:
    RuntimeCommands m_commands;
};

// Unshares the calling process's mount namespace (recursively private, so nothing it mounts is
// seen outside or outlives it) and applies the runtime's cgroup workaround inside it. Must run
// before the process starts threads. A no-op when not root.
void enter_private_mount_namespace(const Runtime& runtime);
// The cgroup workaround alone (crun on hybrid cgroups: /sys/fs/cgroup/unified unmounted), for a
// process that is already in its private mount namespace.
void hide_hybrid_cgroup2(const Runtime& runtime);

}  // namespace envpack
