// How envpack reaches a host (DESIGN.md "Launch model"): `envpack.remote_exec` is a command prefix
// and a command runs there as `PREFIX HOST sh -c CMD`. Transports differ in what reaches the
// remote side: `ip netns exec` and `srun --overlap -w` keep their argv, so CMD is one word quoted
// once (the remote `sh -c` parses it); `ssh` joins its arguments with spaces into one command line
// that the remote login shell parses first, so CMD is quoted once more. `Transport` is a value
// (pure: no process is started here); `command(host, argv)` gives the exact argv to run locally,
// and the remote side sees `argv` word for word, whatever the words hold (spaces, quotes, `$`,
// newlines).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace envpack {

// POSIX shell quoting of one word ('...' with embedded quotes as '\''); plain words as is.
std::string shell_quote(std::string_view word);
// The words quoted and joined by spaces: one command line `sh -c` parses back into `argv`.
std::string shell_join(const std::vector<std::string>& argv);

// How a transport passes a command.
enum class TransportQuoting {
    argv,        // keeps argv (`ip netns exec`, `srun`): CMD quoted once
    joined_line  // joins its arguments into one remote command line (`ssh`): quoted twice
};

// PREFIX... HOST sh -c CMD, CMD = shell_join(argv), quoted once more for joined_line.
std::vector<std::string> transport_command(const std::vector<std::string>& prefix,
                                           std::string_view host,
                                           const std::vector<std::string>& argv,
                                           TransportQuoting quoting);

// A remote_exec prefix and how it quotes.
class Transport {
  public:
    Transport() = default;
    Transport(std::vector<std::string> prefix, TransportQuoting quoting)
        : m_prefix(std::move(prefix)), m_quoting(quoting) {}

    // From `envpack.remote_exec` (words): joined_line when the program is ssh (any path ending
    // in `/ssh`, or `ssh`), argv otherwise. An empty prefix means ssh.
    static Transport parse(const std::vector<std::string>& remote_exec);

    // The argv that runs `argv` on `host`.
    std::vector<std::string> command(std::string_view host,
                                     const std::vector<std::string>& argv) const;

    const std::vector<std::string>& prefix() const { return m_prefix; }
    TransportQuoting quoting() const { return m_quoting; }
    // The prefix as the user wrote it (for messages): `ip netns exec`.
    std::string to_string() const;
    bool operator==(const Transport&) const = default;

  private:
    std::vector<std::string> m_prefix = {"ssh"};
    TransportQuoting m_quoting = TransportQuoting::joined_line;
};

}  // namespace envpack
