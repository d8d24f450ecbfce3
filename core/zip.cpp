#include "core/zip.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <zlib.h>

#include "core/error.h"

namespace envpack {
namespace {

constexpr std::uint32_t k_eocd_sig = 0x06054b50;
constexpr std::uint32_t k_zip64_locator_sig = 0x07064b50;
constexpr std::uint32_t k_zip64_eocd_sig = 0x06064b50;
constexpr std::uint32_t k_central_sig = 0x02014b50;
constexpr std::uint32_t k_local_sig = 0x04034b50;
constexpr std::size_t k_eocd_size = 22;
constexpr std::size_t k_max_comment = 0xffff;
constexpr std::size_t k_chunk = 1 << 20;

int open_read(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw_errno("open", path.string(), errno);
    }
    return fd;
}

class FileSource : public ZipSource {
  public:
    explicit FileSource(const std::filesystem::path& path) : m_path(path), m_fd(open_read(path)) {
        struct stat st {};
        if (::fstat(m_fd.get(), &st) != 0) {
            throw_errno("stat", path.string(), errno);
        }
        m_size = static_cast<std::uint64_t>(st.st_size);
    }
    std::uint64_t size() override { return m_size; }
    std::string read(std::uint64_t offset, std::size_t length) override {
        std::string out(length, '\0');
        std::size_t done = 0;
        while (done < length) {
            ssize_t n = ::pread(m_fd.get(), out.data() + done, length - done,
                                static_cast<off_t>(offset + done));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                throw_errno("read", m_path.string(), errno);
            }
            if (n == 0) {
                throw protocol_error(
                    fmt::format("read `{}`: unexpected end of file", m_path.string()));
            }
            done += static_cast<std::size_t>(n);
        }
        return out;
    }

  private:
    std::filesystem::path m_path;
    UniqueFd m_fd;
    std::uint64_t m_size = 0;
};

class MemorySource : public ZipSource {
  public:
    explicit MemorySource(std::string bytes) : m_bytes(std::move(bytes)) {}
    std::uint64_t size() override { return m_bytes.size(); }
    std::string read(std::uint64_t offset, std::size_t length) override {
        return m_bytes.substr(static_cast<std::size_t>(offset), length);
    }

  private:
    std::string m_bytes;
};

// Little-endian field reader over one record; running past its end is a malformed archive.
class Fields {
  public:
    Fields(std::string_view data, const std::string& archive) : m_data(data), m_archive(archive) {}
    std::uint64_t get(std::size_t width) {
        if (m_pos + width > m_data.size()) {
            throw protocol_error(fmt::format("read zip `{}`: truncated record", m_archive));
        }
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < width; ++i) {
            v |= static_cast<std::uint64_t>(static_cast<unsigned char>(m_data[m_pos + i]))
                 << (8 * i);
        }
        m_pos += width;
        return v;
    }
    std::uint16_t u16() { return static_cast<std::uint16_t>(get(2)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(get(4)); }
    std::uint64_t u64() { return get(8); }
    std::string_view bytes(std::size_t n) {
        if (m_pos + n > m_data.size()) {
            throw protocol_error(fmt::format("read zip `{}`: truncated record", m_archive));
        }
        auto v = m_data.substr(m_pos, n);
        m_pos += n;
        return v;
    }
    std::size_t pos() const { return m_pos; }

  private:
    std::string_view m_data;
    const std::string& m_archive;
    std::size_t m_pos = 0;
};

// Applies the ZIP64 extended information extra field (id 1) to the fields that overflowed.
void apply_zip64_extra(std::string_view extra, ZipMember& m, bool usize, bool csize, bool offset,
                       const std::string& archive) {
    Fields f(extra, archive);
    while (f.pos() + 4 <= extra.size()) {
        std::uint16_t id = f.u16();
        std::uint16_t len = f.u16();
        std::string_view body = f.bytes(len);
        if (id != 1) {
            continue;
        }
        Fields z(body, archive);
        if (usize) {
            m.size = z.u64();
        }
        if (csize) {
            m.compressed_size = z.u64();
        }
        if (offset) {
            m.local_header_offset = z.u64();
        }
        return;
    }
}

}  // namespace

std::unique_ptr<ZipSource> zip_file_source(const std::filesystem::path& path) {
    return std::make_unique<FileSource>(path);
}

std::unique_ptr<ZipSource> zip_memory_source(std::string bytes) {
    return std::make_unique<MemorySource>(std::move(bytes));
}

std::uint32_t ZipMember::unix_mode() const {
    return (made_by >> 8) == 3 ? (external_attr >> 16) : 0;
}

ZipReader ZipReader::open(const std::filesystem::path& path) {
    return ZipReader(zip_file_source(path), path.string());
}

ZipReader::ZipReader(std::unique_ptr<ZipSource> source, std::string name)
    : m_source(std::move(source)), m_name(std::move(name)) {
    const std::uint64_t size = m_source->size();
    if (size < k_eocd_size) {
        throw protocol_error(
            fmt::format("read zip `{}`: not a zip archive ({} bytes)", m_name, size),
            "a wheel is a zip file; the file may be truncated or not a wheel");
    }
    const std::uint64_t tail_len = std::min<std::uint64_t>(size, k_eocd_size + k_max_comment);
    const std::uint64_t tail_start = size - tail_len;
    const std::string tail = m_source->read(tail_start, static_cast<std::size_t>(tail_len));
    std::optional<std::size_t> eocd;
    for (std::size_t i = tail.size() - k_eocd_size + 1; i-- > 0;) {
        if (tail.compare(i, 4, "PK\x05\x06") == 0) {
            eocd = i;
            break;
        }
    }
    if (!eocd) {
        throw protocol_error(
            fmt::format("read zip `{}`: no end of central directory record", m_name),
            "a wheel is a zip file; the file may be truncated or not a wheel");
    }
    Fields e(std::string_view(tail).substr(*eocd), m_name);
    (void)e.u32();
    std::uint16_t disk = e.u16();
    std::uint16_t cd_disk = e.u16();
    (void)e.u16();
    std::uint64_t entries = e.u16();
    std::uint64_t cd_size = e.u32();
    std::uint64_t cd_offset = e.u32();
    if (disk != 0 || cd_disk != 0) {
        if (disk != 0xffff && cd_disk != 0xffff) {
            throw protocol_error(
                fmt::format("read zip `{}`: multi-disk archives are not supported", m_name));
        }
    }
    if (entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
        // ZIP64: the locator sits right before the EOCD record.
        std::uint64_t eocd_abs = tail_start + *eocd;
        if (eocd_abs < 20) {
            throw protocol_error(fmt::format("read zip `{}`: missing ZIP64 locator", m_name));
        }
        std::string loc = m_source->read(eocd_abs - 20, 20);
        Fields l(loc, m_name);
        if (l.u32() != k_zip64_locator_sig) {
            throw protocol_error(fmt::format("read zip `{}`: missing ZIP64 locator", m_name));
        }
        (void)l.u32();
        std::uint64_t z_off = l.u64();
        if (z_off + 56 > size) {
            throw protocol_error(
                fmt::format("read zip `{}`: ZIP64 record outside the archive", m_name));
        }
        std::string z = m_source->read(z_off, 56);
        Fields zf(z, m_name);
        if (zf.u32() != k_zip64_eocd_sig) {
            throw protocol_error(fmt::format("read zip `{}`: bad ZIP64 end record", m_name));
        }
        (void)zf.u64();
        (void)zf.u16();
        (void)zf.u16();
        (void)zf.u32();
        (void)zf.u32();
        (void)zf.u64();
        entries = zf.u64();
        cd_size = zf.u64();
        cd_offset = zf.u64();
    }
    if (cd_offset > size || cd_size > size - cd_offset) {
        throw protocol_error(
            fmt::format("read zip `{}`: central directory outside the archive", m_name));
    }
    const std::string cd = m_source->read(cd_offset, static_cast<std::size_t>(cd_size));
    Fields f(cd, m_name);
    m_members.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(entries, 1 << 20)));
    for (std::uint64_t i = 0; i < entries; ++i) {
        if (f.u32() != k_central_sig) {
            throw protocol_error(
                fmt::format("read zip `{}`: bad central directory entry {}", m_name, i));
        }
        ZipMember m;
        m.made_by = f.u16();
        (void)f.u16();
        m.flags = f.u16();
        m.method = f.u16();
        (void)f.u32();  // time, date
        m.crc32 = f.u32();
        m.compressed_size = f.u32();
        m.size = f.u32();
        std::uint16_t name_len = f.u16();
        std::uint16_t extra_len = f.u16();
        std::uint16_t comment_len = f.u16();
        (void)f.u16();
        (void)f.u16();
        m.external_attr = f.u32();
        m.local_header_offset = f.u32();
        m.name = std::string(f.bytes(name_len));
        std::string_view extra = f.bytes(extra_len);
        (void)f.bytes(comment_len);
        bool usize = m.size == 0xffffffff;
        bool csize = m.compressed_size == 0xffffffff;
        bool off = m.local_header_offset == 0xffffffff;
        if (usize || csize || off) {
            apply_zip64_extra(extra, m, usize, csize, off, m_name);
        }
        m_members.push_back(std::move(m));
    }
}

const ZipMember* ZipReader::find(std::string_view member_name) const {
    for (const auto& m : m_members) {
        if (m.name == member_name) {
            return &m;
        }
    }
    return nullptr;
}

void ZipReader::read(const ZipMember& m, Sink& out) const {
    auto bad = [&](std::string_view what) {
        return protocol_error(fmt::format("read `{}` in zip `{}`: {}", m.name, m_name, what),
                              "the archive is damaged; download it again");
    };
    if ((m.flags & 1) != 0) {
        throw bad("encrypted members are not supported");
    }
    if (m.method != 0 && m.method != 8) {
        throw bad(fmt::format("compression method {} is not supported (stored or deflate only)",
                              m.method));
    }
    const std::uint64_t size = m_source->size();
    if (m.local_header_offset + 30 > size) {
        throw bad("local header outside the archive");
    }
    std::string lh = m_source->read(m.local_header_offset, 30);
    Fields l(lh, m_name);
    if (l.u32() != k_local_sig) {
        throw bad("bad local header");
    }
    (void)l.bytes(22);
    std::uint16_t name_len = l.u16();
    std::uint16_t extra_len = l.u16();
    std::uint64_t data = m.local_header_offset + 30 + name_len + extra_len;
    if (data > size || m.compressed_size > size - data) {
        throw bad("data outside the archive");
    }
    uLong crc = crc32(0, nullptr, 0);
    std::uint64_t produced = 0;
    auto emit = [&](const char* p, std::size_t n) {
        produced += n;
        if (produced > m.size) {
            throw bad("more data than the central directory says");
        }
        crc = crc32(crc, reinterpret_cast<const Bytef*>(p), static_cast<uInt>(n));
        out.write(p, n);
    };
    if (m.method == 0) {
        if (m.compressed_size != m.size) {
            throw bad("stored member whose sizes differ");
        }
        for (std::uint64_t pos = 0; pos < m.size;) {
            std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk, m.size - pos));
            std::string chunk = m_source->read(data + pos, n);
            emit(chunk.data(), chunk.size());
            pos += n;
        }
    } else {
        z_stream zs{};
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
            throw bad("zlib inflateInit2 failed");
        }
        struct End {
            z_stream* z;
            ~End() { inflateEnd(z); }
        } end{&zs};
        std::string buffer(std::min<std::uint64_t>(k_chunk, std::max<std::uint64_t>(m.size, 1)),
                           '\0');
        int rc = Z_OK;
        std::uint64_t pos = 0;
        std::string chunk;
        while (rc != Z_STREAM_END) {
            if (zs.avail_in == 0) {
                if (pos >= m.compressed_size) {
                    throw bad("deflate stream ends early");
                }
                std::size_t n = static_cast<std::size_t>(
                    std::min<std::uint64_t>(k_chunk, m.compressed_size - pos));
                chunk = m_source->read(data + pos, n);
                pos += n;
                zs.next_in = reinterpret_cast<Bytef*>(chunk.data());
                zs.avail_in = static_cast<uInt>(chunk.size());
            }
            zs.next_out = reinterpret_cast<Bytef*>(buffer.data());
            zs.avail_out = static_cast<uInt>(buffer.size());
            rc = inflate(&zs, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END) {
                throw bad(
                    fmt::format("deflate data is damaged ({})", zs.msg ? zs.msg : "zlib error"));
            }
            emit(buffer.data(), buffer.size() - zs.avail_out);
        }
    }
    if (produced != m.size) {
        throw bad(fmt::format("{} bytes where the central directory says {}", produced, m.size));
    }
    if (static_cast<std::uint32_t>(crc) != m.crc32) {
        throw bad("CRC-32 mismatch");
    }
}

std::string ZipReader::read(const ZipMember& m, std::uint64_t limit) const {
    if (m.size > limit) {
        throw protocol_error(
            fmt::format("read `{}` in zip `{}`: {} bytes is more than the {} allowed", m.name,
                        m_name, m.size, limit));
    }
    class Collect : public Sink {
      public:
        void write(const void* d, size_t n) override { s.append(static_cast<const char*>(d), n); }
        using Sink::write;
        std::string s;
    } c;
    c.s.reserve(static_cast<std::size_t>(m.size));
    read(m, c);
    return std::move(c.s);
}

}  // namespace envpack
