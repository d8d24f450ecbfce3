#include "launcher/broker.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/child.h"
#include "core/error.h"
#include "core/fs.h"

namespace envpack {

namespace fs = std::filesystem;

// ---- wire format ------------------------------------------------------------------------

std::string encode_request(const ExecRequest& r) {
    std::string payload;
    auto field = [&](std::string_view s) {
        payload.append(s);
        payload.push_back('\0');
    };
    field(k_broker_magic);
    field("exec");
    field(r.node);
    field(std::to_string(r.argv.size()));
    for (const auto& a : r.argv) {
        field(a);
    }
    field(std::to_string(r.env.size()));
    for (const auto& [k, v] : r.env) {
        field(k + "=" + v);
    }
    auto n = static_cast<std::uint32_t>(payload.size());
    std::string out;
    out.push_back(static_cast<char>((n >> 24) & 0xff));
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    out.push_back(static_cast<char>((n >> 8) & 0xff));
    out.push_back(static_cast<char>(n & 0xff));
    return out + payload;
}

std::optional<ExecRequest> decode_request(std::string_view payload, std::string* why) {
    auto fail = [&](std::string message) -> std::optional<ExecRequest> {
        if (why) {
            *why = std::move(message);
        }
        return std::nullopt;
    };
    std::vector<std::string_view> fields;
    size_t at = 0;
    while (at < payload.size()) {
        size_t nul = payload.find('\0', at);
        if (nul == std::string_view::npos) {
            return fail("a field without its terminating NUL");
        }
        fields.push_back(payload.substr(at, nul - at));
        at = nul + 1;
    }
    size_t i = 0;
    auto next = [&]() -> std::optional<std::string_view> {
        if (i >= fields.size()) {
            return std::nullopt;
        }
        return fields[i++];
    };
    auto count = [&](std::string_view what) -> std::optional<size_t> {
        auto f = next();
        size_t n = 0;
        if (!f || f->empty() ||
            std::from_chars(f->data(), f->data() + f->size(), n).ec != std::errc() ||
            std::from_chars(f->data(), f->data() + f->size(), n).ptr != f->data() + f->size() ||
            n > fields.size()) {
            (void)what;
            return std::nullopt;
        }
        return n;
    };
    auto magic = next();
    if (!magic || *magic != k_broker_magic) {
        return fail("not an envpack-broker/1 request");
    }
    auto verb = next();
    if (!verb || *verb != "exec") {
        return fail("unknown request `" + std::string(verb.value_or("")) + "`");
    }
    ExecRequest r;
    auto node = next();
    if (!node || node->empty()) {
        return fail("no node name");
    }
    r.node = std::string(*node);
    auto argc = count("argc");
    if (!argc || *argc == 0) {
        return fail("no command");
    }
    for (size_t k = 0; k < *argc; ++k) {
        auto a = next();
        if (!a) {
            return fail("fewer arguments than announced");
        }
        r.argv.emplace_back(*a);
    }
    auto envc = count("envc");
    if (!envc) {
        return fail("no environment count");
    }
    for (size_t k = 0; k < *envc; ++k) {
        auto e = next();
        if (!e) {
            return fail("fewer variables than announced");
        }
        auto eq = e->find('=');
        if (eq == std::string_view::npos || eq == 0) {
            return fail(fmt::format("`{}` is not NAME=VALUE", *e));
        }
        r.env.emplace_back(std::string(e->substr(0, eq)), std::string(e->substr(eq + 1)));
    }
    if (i != fields.size()) {
        return fail("trailing fields");
    }
    return r;
}

std::vector<std::string> agent_command(const std::vector<std::string>& words) {
    std::string line;
    for (const auto& w : words) {
        line += (line.empty() ? "" : " ") + w;
    }
    return {"/bin/sh", "-c", line};
}

// ---- the server ---------------------------------------------------------------------------

namespace {

void send_line(int fd, const std::string& line) {
    std::string out = line + "\n";
    (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
}

// Reads the framed request and the fds passed with it. Returns false on a broken connection.
bool read_request(int fd, std::string& payload, std::vector<int>& fds) {
    std::string buf;
    std::size_t want = 4;
    while (buf.size() < want) {
        char data[65536];
        iovec iov{data, std::min(sizeof data, want - buf.size())};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 3)];
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                const int* p = reinterpret_cast<const int*>(CMSG_DATA(c));
                fds.insert(fds.end(), p, p + count);
            }
        }
        buf.append(data, static_cast<size_t>(n));
        if (want == 4 && buf.size() >= 4) {
            auto b = [&](int k) {
                return static_cast<std::size_t>(static_cast<unsigned char>(buf[k]));
            };
            std::size_t len = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
            if (len > k_broker_max_request) {
                return false;
            }
            want = 4 + len;
        }
    }
    payload = buf.substr(4);
    return true;
}

}  // namespace

struct Broker::State {
    BrokerOptions options;
    RuntimeCommands commands;
    int listen_fd = -1;
    int wake[2] = {-1, -1};
    std::atomic<bool> stopping{false};
    std::atomic<int> served{0};
    std::atomic<int> counter{0};
    std::mutex mutex;
    std::vector<std::thread> handlers;
    std::thread acceptor;

    explicit State(BrokerOptions o) : options(std::move(o)), commands(options.runtime) {}

    const BrokerTarget* target(const std::string& node) const {
        for (const auto& t : options.targets) {
            if (t.node == node) {
                return &t;
            }
        }
        return nullptr;
    }

    void accept_loop() {
        while (!stopping) {
            pollfd p[2] = {{listen_fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
            if (::poll(p, 2, -1) < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return;
            }
            if (p[1].revents || stopping) {
                return;
            }
            int conn = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (conn < 0) {
                continue;
            }
            std::lock_guard lock(mutex);
            handlers.emplace_back([this, conn] { serve(conn); });
        }
    }

    void serve(int conn) {
        UniqueFd owner(conn);
        std::string payload;
        std::vector<int> fds;
        bool ok = read_request(conn, payload, fds);
        std::vector<std::unique_ptr<UniqueFd>> fd_owners;
        for (int fd : fds) {
            fd_owners.push_back(std::make_unique<UniqueFd>(fd));
        }
        ++served;
        if (!ok) {
            return;
        }
        std::string why;
        auto request = decode_request(payload, &why);
        if (!request) {
            send_line(conn, "error malformed request: " + why);
            return;
        }
        if (fds.size() != 3) {
            send_line(conn, "error the request must pass the agent's fds 0, 1 and 2");
            return;
        }
        const BrokerTarget* t = target(request->node);
        if (!t) {
            std::string names;
            for (const auto& x : options.targets) {
                names += (names.empty() ? "" : ", ") + x.node;
            }
            send_line(conn, fmt::format("error `{}` is not a node of this run (nodes: {})",
                                        request->node, names));
            return;
        }
        if (options.ready.valid()) {
            try {
                options.ready.get();
            } catch (const std::exception& e) {
                send_line(conn, fmt::format("error node `{}` did not start: {}", request->node,
                                            e.what()));
                return;
            }
        }
        ExecProcess p = t->process;
        p.args = request->argv;
        for (const auto& [k, v] : request->env) {
            p.env[k] = v;
        }
        fs::path json = options.work_dir / fmt::format("broker-{}.json", counter++);
        std::vector<std::string> argv;
        if (t->remote_exec) {
            argv = t->remote_exec(p);
        } else {
            write_file_atomic(json, render_exec_process(p), Durability::none);
            argv = commands.exec(t->container_id, json);
        }
        ChildOptions co;
        co.in = ChildInput::fd(fds[0]);
        co.out = ChildOutput::fd(fds[1]);
        co.err = ChildOutput::fd(fds[2]);
        std::optional<Child> child;
        try {
            child.emplace(Child::spawn(argv, std::move(co)));
        } catch (const std::exception& e) {
            send_line(conn, fmt::format("error {}", e.what()));
            return;
        }
        fd_owners.clear();  // the exec has its copies
        std::optional<ExitStatus> status;
        while (!status) {
            status = child->wait_for(std::chrono::milliseconds(100));
            if (status) {
                break;
            }
            pollfd p{conn, POLLIN, 0};
            bool agent_gone = ::poll(&p, 1, 0) > 0;
            if (agent_gone || stopping) {
                child->kill_tree();
                status = child->wait();
            }
        }
        std::error_code ec;
        fs::remove(json, ec);
        send_line(conn, fmt::format("exit {}", status->status_code()));
    }
};

Broker::Broker(BrokerOptions options) : m_state(std::make_unique<State>(std::move(options))) {
    State& s = *m_state;
    make_dirs(s.options.dir);
    make_dirs(s.options.work_dir);
    fs::path path = socket_path();
    std::error_code ec;
    fs::remove(path, ec);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.string().size() >= sizeof addr.sun_path) {
        throw Error(fmt::format("the broker socket path {} is too long", path.string()), "",
                    ExitCode::run_failed);
    }
    std::strcpy(addr.sun_path, path.c_str());
    s.listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s.listen_fd < 0) {
        throw_errno("socket", path.string(), errno);
    }
    if (::bind(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::chmod(path.c_str(), 0600) != 0 || ::listen(s.listen_fd, 64) != 0) {
        int err = errno;
        ::close(s.listen_fd);
        throw_errno("listen on", path.string(), err);
    }
    if (::pipe2(s.wake, O_CLOEXEC) != 0) {
        int err = errno;
        ::close(s.listen_fd);
        throw_errno("pipe", "broker", err);
    }
    s.acceptor = std::thread([&s] { s.accept_loop(); });
}

Broker::~Broker() {
    try {
        stop();
    } catch (...) {
    }
}

void Broker::stop() {
    State& s = *m_state;
    if (s.stopping.exchange(true)) {
        return;
    }
    char c = 1;
    (void)::write(s.wake[1], &c, 1);
    if (s.acceptor.joinable()) {
        s.acceptor.join();
    }
    std::vector<std::thread> handlers;
    {
        std::lock_guard lock(s.mutex);
        handlers.swap(s.handlers);
    }
    for (auto& t : handlers) {
        t.join();
    }
    ::close(s.listen_fd);
    ::close(s.wake[0]);
    ::close(s.wake[1]);
    std::error_code ec;
    fs::remove(socket_path(), ec);
}

fs::path Broker::socket_path() const {
    return m_state->options.dir / std::string(k_broker_socket_name);
}

int Broker::requests() const {
    return m_state->served;
}

}  // namespace envpack
