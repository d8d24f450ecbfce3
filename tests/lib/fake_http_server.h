// An HTTP/1.1 server on 127.0.0.1, port 0 (the kernel picks; `port()` reports it), in the test's
// own process: the fake transport under HttpClient for unit tests of retries, auth and redirects.
//
// One connection per request (every answer should say `Connection: close`). The handler gets the
// parsed request (its body read in full by Content-Length) and returns the whole answer text,
// status line to last byte; an answer whose body is shorter than its Content-Length is a dropped
// connection, as the server hangs up after writing it. A TLS ClientHello (an https probe) is
// hung up on at once, as a plain-http server does. `requests()` lists what arrived, in order.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace envpack::test {

struct FakeRequest {
    std::string method, target, headers, body;
    // The value of header `name` (case-insensitive), "" if absent.
    std::string header(std::string_view name) const {
        std::string lower_headers = headers;
        std::string lower_name(name);
        for (char& c : lower_headers) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        for (char& c : lower_name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        auto pos = lower_headers.find("\r\n" + lower_name + ":");
        if (pos == std::string::npos) {
            return {};
        }
        pos += lower_name.size() + 3;
        auto end = headers.find("\r\n", pos);
        std::string v = headers.substr(pos, end == std::string::npos ? end : end - pos);
        while (!v.empty() && v.front() == ' ') {
            v.erase(0, 1);
        }
        return v;
    }
};

class FakeHttpServer {
  public:
    using Handler = std::function<std::string(const FakeRequest&, int port)>;

    explicit FakeHttpServer(Handler handler) : m_handler(std::move(handler)) {
        m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (m_fd < 0 || ::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(m_fd, 64) != 0) {
            std::abort();  // a test host without loopback cannot run these tests at all
        }
        socklen_t len = sizeof addr;
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len);
        m_port = ntohs(addr.sin_port);
        m_thread = std::thread([this] { loop(); });
    }
    ~FakeHttpServer() {
        m_stop = true;
        ::shutdown(m_fd, SHUT_RDWR);
        ::close(m_fd);
        m_thread.join();
    }
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    int port() const { return m_port; }
    std::string base() const { return fmt::format("http://127.0.0.1:{}", m_port); }
    std::vector<FakeRequest> requests() {
        std::lock_guard lock(m_mutex);
        return m_requests;
    }
    // How many requests had `method` and a target containing `target_part`.
    int count(std::string_view method, std::string_view target_part) {
        std::lock_guard lock(m_mutex);
        int n = 0;
        for (const auto& r : m_requests) {
            n += r.method == method && r.target.find(target_part) != std::string::npos;
        }
        return n;
    }

  private:
    void loop() {
        while (!m_stop) {
            int c = ::accept(m_fd, nullptr, nullptr);
            if (c < 0) {
                return;
            }
            serve(c);
            ::close(c);
        }
    }
    void serve(int c) {
        std::string data;
        char buf[65536];
        while (data.find("\r\n\r\n") == std::string::npos) {
            ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) {
                return;
            }
            data.append(buf, static_cast<size_t>(n));
            if (data[0] == '\x16') {
                return;  // a TLS ClientHello: hang up like a plain server
            }
        }
        FakeRequest r;
        auto sp1 = data.find(' ');
        auto sp2 = data.find(' ', sp1 + 1);
        auto end = data.find("\r\n\r\n");
        r.method = data.substr(0, sp1);
        r.target = data.substr(sp1 + 1, sp2 - sp1 - 1);
        r.headers = data.substr(0, end);
        r.body = data.substr(end + 4);
        size_t want =
            static_cast<size_t>(std::strtoull(r.header("content-length").c_str(), nullptr, 10));
        while (r.body.size() < want) {
            ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            r.body.append(buf, static_cast<size_t>(n));
        }
        {
            std::lock_guard lock(m_mutex);
            m_requests.push_back(r);
        }
        std::string out = m_handler(r, m_port);
        size_t off = 0;
        while (off < out.size()) {
            ssize_t n = ::send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
            if (n <= 0) {
                break;
            }
            off += static_cast<size_t>(n);
        }
    }

    Handler m_handler;
    int m_fd = -1;
    int m_port = 0;
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
    std::mutex m_mutex;
    std::vector<FakeRequest> m_requests;
};

// A whole answer: status, extra header lines ("Name: value\r\n" each), body, Connection: close.
inline std::string http_answer(int status, const std::string& body, const std::string& extra = "",
                               const std::string& content_type = "application/json") {
    return fmt::format(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\n"
        "Docker-Distribution-API-Version: registry/2.0\r\n{}Content-Length: {}\r\n"
        "Connection: close\r\n\r\n{}",
        status, content_type, extra, body.size(), body);
}

// An answer that announces `body` but hangs up after its first `sent` bytes (a dropped body).
inline std::string http_dropped_answer(int status, const std::string& body, size_t sent,
                                       const std::string& extra = "") {
    std::string whole = http_answer(status, body, extra, "application/octet-stream");
    return whole.substr(0, whole.size() - body.size() + sent);
}

}  // namespace envpack::test
