#include "launcher/transport.h"

#include <cctype>
#include <cstring>

namespace envpack {

std::string shell_quote(std::string_view word) {
    bool plain = !word.empty();
    for (char c : word) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("@%+=:,./_-", c))) {
            plain = false;
            break;
        }
    }
    if (plain) {
        return std::string(word);
    }
    std::string out = "'";
    for (char c : word) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out.push_back(c);
        }
    }
    return out + "'";
}

std::string shell_join(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        out += (out.empty() ? "" : " ") + shell_quote(a);
    }
    return out;
}

std::vector<std::string> transport_command(const std::vector<std::string>& prefix,
                                           std::string_view host,
                                           const std::vector<std::string>& argv,
                                           TransportQuoting quoting) {
    std::vector<std::string> out = prefix;
    out.emplace_back(host);
    std::string cmd = shell_join(argv);
    if (quoting == TransportQuoting::argv) {
        out.insert(out.end(), {"sh", "-c", cmd});
    } else {
        out.insert(out.end(), {"sh", "-c", shell_quote(cmd)});
    }
    return out;
}

Transport Transport::parse(const std::vector<std::string>& remote_exec) {
    if (remote_exec.empty()) {
        return Transport();
    }
    std::string_view program = remote_exec.front();
    auto slash = program.rfind('/');
    if (slash != std::string_view::npos) {
        program.remove_prefix(slash + 1);
    }
    return Transport(remote_exec,
                     program == "ssh" ? TransportQuoting::joined_line : TransportQuoting::argv);
}

std::vector<std::string> Transport::command(std::string_view host,
                                            const std::vector<std::string>& argv) const {
    return transport_command(m_prefix, host, argv, m_quoting);
}

std::string Transport::to_string() const {
    std::string out;
    for (const auto& w : m_prefix) {
        out += (out.empty() ? "" : " ") + w;
    }
    return out;
}

}  // namespace envpack
