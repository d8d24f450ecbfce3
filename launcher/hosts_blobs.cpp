// The blob stream and the line/byte reader of the node protocol (hosts_node.h).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "launcher/detail/fd_write.h"
#include "launcher/detail/transfer_header.h"
#include "launcher/hosts_node.h"

namespace envpack {

namespace fs = std::filesystem;

// ---- fd helpers ---------------------------------------------------------------------------

bool FdReader::fill() {
    if (m_pos > 0) {
        m_buf.erase(0, m_pos);
        m_pos = 0;
    }
    char chunk[1 << 16];
    for (;;) {
        ssize_t n = ::read(m_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        m_buf.append(chunk, static_cast<size_t>(n));
        return true;
    }
}

std::optional<std::string> FdReader::line() {
    for (;;) {
        auto nl = m_buf.find('\n', m_pos);
        if (nl != std::string::npos) {
            std::string out = m_buf.substr(m_pos, nl - m_pos);
            m_pos = nl + 1;
            return out;
        }
        if (!fill()) {
            return std::nullopt;
        }
    }
}

bool FdReader::read_exact(std::uint64_t n, const std::function<void(std::string_view)>& sink) {
    while (n > 0) {
        if (m_pos == m_buf.size() && !fill()) {
            return false;
        }
        size_t take = static_cast<size_t>(std::min<std::uint64_t>(n, m_buf.size() - m_pos));
        sink(std::string_view(m_buf).substr(m_pos, take));
        m_pos += take;
        n -= take;
    }
    return true;
}

// ---- blobs ----------------------------------------------------------------------------------

std::vector<std::string> blobs_present(const Store& store, const std::vector<std::string>& wanted) {
    std::vector<std::string> out;
    for (const auto& w : wanted) {
        auto d = Digest::parse(w);
        if (d && store.has_blob(*d)) {
            out.push_back(d->to_string());
        }
    }
    return out;
}

std::vector<Descriptor> image_blobs(const Store& store, const Descriptor& manifest) {
    Manifest m = store.read_manifest(manifest);
    std::vector<Descriptor> out = {manifest, m.config};
    out.insert(out.end(), m.layers.begin(), m.layers.end());
    return out;
}

std::uint64_t write_blob_stream(int fd, const Store& store, const std::vector<Descriptor>& blobs) {
    std::uint64_t total = 0;
    std::vector<char> buf(1 << 20);
    for (const auto& d : blobs) {
        fs::path path = store.blob_path(d.digest);
        UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (in.get() < 0) {
            throw_errno("open", path.string(), errno);
        }
        std::uint64_t size = fs::file_size(path);
        detail::write_all(fd, fmt::format("blob {} {}\n", d.digest.to_string(), size),
                          "the blob stream");
        for (std::uint64_t left = size; left > 0;) {
            ssize_t n = ::read(in.get(), buf.data(), std::min<std::uint64_t>(left, buf.size()));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                throw Error(fmt::format("read {}: the blob ended early", path.string()));
            }
            detail::write_all(fd, std::string_view(buf.data(), static_cast<size_t>(n)),
                              "the blob stream");
            left -= static_cast<std::uint64_t>(n);
        }
        total += size;
    }
    detail::write_all(fd, "end\n", "the blob stream");
    return total;
}

int receive_blob_stream(int fd, const Store& store) {
    FdReader in(fd);
    int count = 0;
    for (;;) {
        auto line = in.line();
        if (!line) {
            throw Error("blobs-receive: the stream ended without `end`", "", ExitCode::failure);
        }
        auto header = detail::parse_transfer_header(*line, "blob", "blobs-receive");
        if (!header) {
            return count;
        }
        const Digest& digest = header->digest;
        const std::uint64_t size = header->size;
        BlobWriter writer = store.begin_blob();
        if (!in.read_exact(size, [&](std::string_view b) { writer.write(b.data(), b.size()); })) {
            throw Error(
                fmt::format("blobs-receive: the stream ended inside {}", digest.to_string()));
        }
        writer.commit(digest);  // verified, renamed into place
        ++count;
    }
}

}  // namespace envpack
