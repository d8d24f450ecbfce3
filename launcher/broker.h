// The exec broker: how `mpirun` inside node 0's container reaches the other node containers
// without sshd or keys in the image (DESIGN.md "Launch model"). mpirun's plm_rsh_agent is the
// static `envpack-agent` (agent.c), bind-mounted into the container; it connects to a unix socket
// in the run's directory (bind-mounted at /.envpack/broker), sends "exec ARGV on node NAME with
// ENV" together with its own fds 0/1/2 (SCM_RIGHTS), and waits for the exit code. The broker, a
// thread of `envpack run` on the launching host, runs the runtime's `exec` into that node's
// container with the agent's fds as its stdio (so output flows straight through, no relay copy),
// and answers with the exit code. Only the run's own node names are accepted. When the agent
// goes away (mpirun killed it), the exec is killed too; stopping the broker kills every exec.
//
// Wire format (pure functions below, shared by agent.c): a 4-byte big-endian length, then
// NUL-terminated fields: "envpack-broker/1", "exec", NODE, ARGC, ARGV..., ENVC, "K=V"...
// The reply is one line: "exit N" or "error MESSAGE".
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "launcher/runtime.h"
#include "launcher/transport.h"  // shell_quote, transport_command (were here)

namespace envpack {

inline constexpr std::string_view k_broker_magic = "envpack-broker/1";
inline constexpr std::string_view k_broker_socket_name = "sock";  // in the broker directory
inline constexpr std::size_t k_broker_max_request = 1 << 20;

struct ExecRequest {
    std::string node;
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;
    bool operator==(const ExecRequest&) const = default;
};

// Framed bytes (length prefix included).
std::string encode_request(const ExecRequest& request);
// The payload after the length prefix; nullopt (with `why` set) when malformed.
std::optional<ExecRequest> decode_request(std::string_view payload, std::string* why = nullptr);

// The agent's command line: mpirun passes shell-quoted words (`AGENT HOST orted -mca ess "env"
// ...`), which the remote shell is meant to join and parse once: `/bin/sh -c "WORDS joined"`.
std::vector<std::string> agent_command(const std::vector<std::string>& words);

// A node container the broker may exec into.
struct BrokerTarget {
    std::string node;          // the name mpirun uses (hostfile)
    std::string container_id;  // the runtime's ID
    ExecProcess process;       // env, cwd, uid/gid of processes entered there (args replaced)
    // A node on another host (hosts_backend.h): the command that enters the process there
    // (through the transport) instead of this host's `runtime exec`. Empty: a local container.
    std::function<std::vector<std::string>(const ExecProcess&)> remote_exec;
};

struct BrokerOptions {
    std::filesystem::path dir;       // socket dir (bind-mounted at /.envpack/broker)
    std::filesystem::path work_dir;  // process JSON files for `runtime exec`
    Runtime runtime;
    std::vector<BrokerTarget> targets;
    // When valid, each request waits for it first (the node containers being started while
    // mpirun already runs); an exception in it refuses the request with its message.
    std::shared_future<void> ready;
};

class Broker {
  public:
    // Binds the socket (DIR/sock, mode 0600) and starts serving. Throws Error on failure.
    explicit Broker(BrokerOptions options);
    // Stops: no new requests, every exec killed, threads joined, socket removed.
    ~Broker();
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;

    void stop();
    std::filesystem::path socket_path() const;
    // Requests served so far (accepted or refused).
    int requests() const;

  private:
    struct State;
    std::unique_ptr<State> m_state;
};

}  // namespace envpack
