#include "core/zip.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <libdeflate.h>
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
        std::string out;
        int err = 0;
        // Not zero-filled first: every byte is read over (or the string is cut back).
        out.resize_and_overwrite(
            length, [&](char* p, std::size_t n) { return pread_all(offset, n, p, err); });
        check(err);
        return out;
    }
    void read_into(std::uint64_t offset, std::size_t length, char* out) override {
        int err = 0;
        (void)pread_all(offset, length, out, err);
        check(err);
    }

  private:
    // Bytes read before an error (`err`: its errno, or -1 for the end of the file).
    std::size_t pread_all(std::uint64_t offset, std::size_t n, char* p, int& err) noexcept {
        std::size_t done = 0;
        while (done < n) {
            ssize_t got =
                ::pread(m_fd.get(), p + done, n - done, static_cast<off_t>(offset + done));
            if (got < 0 && errno == EINTR) {
                continue;
            }
            if (got <= 0) {
                err = got < 0 ? errno : -1;
                break;
            }
            done += static_cast<std::size_t>(got);
        }
        return done;
    }
    void check(int err) const {
        if (err > 0) {
            throw_errno("read", m_path.string(), err);
        }
        if (err < 0) {
            throw protocol_error(fmt::format("read `{}`: unexpected end of file", m_path.string()));
        }
    }

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

Error bad_member(const std::string& archive, const ZipMember& m, std::string_view what) {
    return protocol_error(fmt::format("read `{}` in zip `{}`: {}", m.name, archive, what),
                          "the archive is damaged; download it again");
}

libdeflate_decompressor* thread_decompressor() {
    thread_local std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)>
        d(libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
    if (!d) {
        throw Error("zip: cannot allocate a libdeflate decompressor");
    }
    return d.get();
}

// A per-thread buffer, never zero-filled by us. Anonymous memory in whole 2 MiB huge pages where
// the kernel gives them (MADV_HUGEPAGE): a 6 MiB member then costs 3 page faults, not 1,536,
// which with the one-call inflate had made the faults cost more than zlib's slower decoding.
// It grows by doubling from 2 MiB; one larger than k_keep is unmapped after use so that a thread
// does not hold a huge member's memory for its life.
class WholeBuffer {
  public:
    WholeBuffer() = default;
    WholeBuffer(const WholeBuffer&) = delete;
    WholeBuffer& operator=(const WholeBuffer&) = delete;
    ~WholeBuffer() { release(); }

    class Lease {
      public:
        explicit Lease(WholeBuffer& b) : m_buffer(b) {}
        ~Lease() {
            if (m_buffer.m_capacity > k_keep) {
                m_buffer.release();
            }
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        char* get(std::size_t n) { return m_buffer.reserve(n); }

      private:
        WholeBuffer& m_buffer;
    };

  private:
    static constexpr std::size_t k_huge = 2u << 20;
    static constexpr std::size_t k_keep = 32u << 20;

    char* reserve(std::size_t n) {
        if (n <= m_capacity && m_data != nullptr) {
            return m_data;
        }
        const std::size_t grown = m_capacity * 2;
        release();
        std::size_t size = std::max({n, grown, k_huge});
        size = (size + k_huge - 1) / k_huge * k_huge;
        // One huge page more, to start the buffer on a 2 MiB boundary.
        void* map = ::mmap(nullptr, size + k_huge, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED) {
            throw_errno("allocate a buffer of", std::to_string(size) + " bytes", errno);
        }
        auto base = reinterpret_cast<std::uintptr_t>(map);
        auto aligned = (base + k_huge - 1) / k_huge * k_huge;
        (void)::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);  // a hint
        m_map = map;
        m_map_size = size + k_huge;
        m_data = reinterpret_cast<char*>(aligned);
        m_capacity = size;
        return m_data;
    }
    void release() {
        if (m_map != nullptr) {
            ::munmap(m_map, m_map_size);
        }
        m_map = nullptr;
        m_data = nullptr;
        m_capacity = 0;
    }

    void* m_map = nullptr;
    std::size_t m_map_size = 0;
    char* m_data = nullptr;
    std::size_t m_capacity = 0;
};

// Checks what the central directory allows before any data is read; where the data starts.
std::uint64_t data_start(ZipSource& source, const std::string& archive, const ZipMember& m) {
    if ((m.flags & 1) != 0) {
        throw bad_member(archive, m, "encrypted members are not supported");
    }
    if (m.method != 0 && m.method != 8) {
        throw bad_member(
            archive, m,
            fmt::format("compression method {} is not supported (stored or deflate only)",
                        m.method));
    }
    if (m.method == 0 && m.compressed_size != m.size) {
        throw bad_member(archive, m, "stored member whose sizes differ");
    }
    const std::uint64_t size = source.size();
    if (m.local_header_offset + 30 > size) {
        throw bad_member(archive, m, "local header outside the archive");
    }
    std::string lh = source.read(m.local_header_offset, 30);
    Fields l(lh, archive);
    if (l.u32() != k_local_sig) {
        throw bad_member(archive, m, "bad local header");
    }
    (void)l.bytes(22);
    std::uint16_t name_len = l.u16();
    std::uint16_t extra_len = l.u16();
    std::uint64_t data = m.local_header_offset + 30 + name_len + extra_len;
    if (data > size || m.compressed_size > size - data) {
        throw bad_member(archive, m, "data outside the archive");
    }
    return data;
}

// The member decompressed in one call into a per-thread buffer and checked; `use` sees it whole.
void read_whole(ZipSource& source, const std::string& archive, const ZipMember& m,
                std::uint64_t data, const std::function<void(const ZipReader::MemberView&)>& use) {
    // Both buffers are per thread and reused: no allocation (and no fresh pages) per member.
    thread_local WholeBuffer packed_buffer;
    thread_local WholeBuffer plain_buffer;
    WholeBuffer::Lease packed_lease(packed_buffer);
    const auto packed_size = static_cast<std::size_t>(m.compressed_size);
    char* packed = packed_lease.get(packed_size);
    source.read_into(data, packed_size, packed);
    ZipReader::MemberView view;
    view.stored = std::string_view(packed, packed_size);
    view.data = view.stored;
    WholeBuffer::Lease plain_lease(plain_buffer);
    if (m.method == 8) {
        char* place = plain_lease.get(static_cast<std::size_t>(m.size));
        std::size_t produced = 0;
        std::size_t consumed = 0;
        const auto rc = libdeflate_deflate_decompress_ex(thread_decompressor(), packed, packed_size,
                                                         place, static_cast<std::size_t>(m.size),
                                                         &consumed, &produced);
        if (rc == LIBDEFLATE_INSUFFICIENT_SPACE) {
            throw bad_member(archive, m, "more data than the central directory says");
        }
        if (rc != LIBDEFLATE_SUCCESS) {
            throw bad_member(archive, m,
                             "deflate data is damaged (invalid or truncated deflate stream)");
        }
        if (produced != m.size) {
            throw bad_member(
                archive, m,
                fmt::format("{} bytes where the central directory says {}", produced, m.size));
        }
        view.data = std::string_view(place, produced);
        view.exact_deflate = consumed == packed_size;
    }
    if (libdeflate_crc32(0, view.data.data(), view.data.size()) != m.crc32) {
        throw bad_member(archive, m, "CRC-32 mismatch");
    }
    use(view);
}

// The member inflated chunk by chunk (zlib) for members too large to hold in memory.
void read_streaming(ZipSource& source, const std::string& archive, const ZipMember& m,
                    std::uint64_t data, Sink& out) {
    std::uint32_t crc = 0;
    std::uint64_t produced = 0;
    auto emit = [&](const char* p, std::size_t n) {
        produced += n;
        if (produced > m.size) {
            throw bad_member(archive, m, "more data than the central directory says");
        }
        crc = libdeflate_crc32(crc, p, n);
        out.write(p, n);
    };
    if (m.method == 0) {
        for (std::uint64_t pos = 0; pos < m.size;) {
            std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk, m.size - pos));
            std::string chunk = source.read(data + pos, n);
            emit(chunk.data(), chunk.size());
            pos += n;
        }
    } else {
        z_stream zs{};
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
            throw bad_member(archive, m, "zlib inflateInit2 failed");
        }
        struct End {
            z_stream* z;
            ~End() { inflateEnd(z); }
        } end{&zs};
        const std::size_t room = static_cast<std::size_t>(
            std::min<std::uint64_t>(k_chunk, std::max<std::uint64_t>(m.size, 1)));
        auto buffer = std::make_unique_for_overwrite<char[]>(room);
        int rc = Z_OK;
        std::uint64_t pos = 0;
        std::string chunk;
        while (rc != Z_STREAM_END) {
            if (zs.avail_in == 0) {
                if (pos >= m.compressed_size) {
                    throw bad_member(archive, m, "deflate stream ends early");
                }
                std::size_t n = static_cast<std::size_t>(
                    std::min<std::uint64_t>(k_chunk, m.compressed_size - pos));
                chunk = source.read(data + pos, n);
                pos += n;
                zs.next_in = reinterpret_cast<Bytef*>(chunk.data());
                zs.avail_in = static_cast<uInt>(chunk.size());
            }
            zs.next_out = reinterpret_cast<Bytef*>(buffer.get());
            zs.avail_out = static_cast<uInt>(room);
            rc = inflate(&zs, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END) {
                throw bad_member(
                    archive, m,
                    fmt::format("deflate data is damaged ({})", zs.msg ? zs.msg : "zlib error"));
            }
            emit(buffer.get(), room - zs.avail_out);
        }
    }
    if (produced != m.size) {
        throw bad_member(
            archive, m,
            fmt::format("{} bytes where the central directory says {}", produced, m.size));
    }
    if (crc != m.crc32) {
        throw bad_member(archive, m, "CRC-32 mismatch");
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
    const std::uint64_t data = data_start(*m_source, m_name, m);
    if (fits_whole(m)) {
        read_whole(*m_source, m_name, m, data,
                   [&](const MemberView& v) { out.write(v.data.data(), v.data.size()); });
    } else {
        read_streaming(*m_source, m_name, m, data, out);
    }
}

void ZipReader::view(const ZipMember& m, const std::function<void(const MemberView&)>& use) const {
    if (!fits_whole(m)) {
        throw internal_error(fmt::format(
            "zip `{}`: member `{}` ({} bytes) is too large to view whole", m_name, m.name, m.size));
    }
    read_whole(*m_source, m_name, m, data_start(*m_source, m_name, m), use);
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
