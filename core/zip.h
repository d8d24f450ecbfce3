// Reading zip archives (APPNOTE 6.3) through their central directory: wheels, and the tail of a
// remote wheel fetched by HTTP range requests (pip's "lazy wheel").
//
// `ZipReader` reads the end-of-central-directory record (ZIP64 too), then the central directory:
// each member's name, sizes, CRC-32, Unix mode (external attributes of a member made on Unix) and
// where its data starts. Member data is read from the local header on, stored or deflated
// (raw deflate: libdeflate in one call up to a memory bound, zlib streaming beyond it), and checked
// against the central directory's size and CRC-32. Bytes come from a `ZipSource`, so the same
// reader works on a file, on memory, or on ranges of a remote file. Anything malformed (truncated
// records, offsets outside the archive, an encrypted member, an unknown compression method, a CRC
// or size mismatch, damaged deflate data) throws a protocol Error that names the archive and, where
// it applies, the member. Member names are returned as stored: checking them for traversal is the
// caller's job.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fs.h"

namespace envpack {

// Random-access bytes of an archive.
class ZipSource {
  public:
    virtual ~ZipSource() = default;
    virtual std::uint64_t size() = 0;
    // Exactly `length` bytes from `offset` (the caller keeps within size()); throws on failure.
    virtual std::string read(std::uint64_t offset, std::size_t length) = 0;
    // The same bytes into `out` (room for `length`); sources that can avoid the string override it.
    virtual void read_into(std::uint64_t offset, std::size_t length, char* out) {
        const std::string bytes = read(offset, length);
        std::memcpy(out, bytes.data(), std::min(bytes.size(), length));
    }
};

// A file read with pread (throws an Error naming it when it cannot be opened).
std::unique_ptr<ZipSource> zip_file_source(const std::filesystem::path& path);
// Bytes held by the source itself.
std::unique_ptr<ZipSource> zip_memory_source(std::string bytes);

struct ZipMember {
    std::string name;
    std::uint16_t method = 0;  // 0 stored, 8 deflate
    std::uint16_t flags = 0;
    std::uint32_t crc32 = 0;
    std::uint64_t compressed_size = 0;
    std::uint64_t size = 0;
    std::uint64_t local_header_offset = 0;
    std::uint16_t made_by = 0;
    std::uint32_t external_attr = 0;

    // The Unix st_mode stored in the external attributes (0 when the member was not made on
    // Unix or carries none).
    std::uint32_t unix_mode() const;
    bool is_directory() const { return !name.empty() && name.back() == '/'; }
};

class ZipReader {
  public:
    // Reads the central directory; throws a protocol Error naming `name` when it is not a zip.
    ZipReader(std::unique_ptr<ZipSource> source, std::string name);
    static ZipReader open(const std::filesystem::path& path);

    const std::string& name() const { return m_name; }
    // In central-directory order.
    const std::vector<ZipMember>& members() const { return m_members; }
    const ZipMember* find(std::string_view member_name) const;

    // Writes the member's uncompressed bytes to `out`. A member no larger than the whole-member
    // limit (both sizes) is decompressed in one call (libdeflate) into a per-thread buffer and
    // checked against size and CRC-32 before anything reaches `out`; a larger one is streamed in
    // 1 MiB chunks (zlib), and `out` may then have received part of it when the check fails.
    void read(const ZipMember& member, Sink& out) const;
    // The whole member in memory; a protocol Error when it is larger than `limit`.
    std::string read(const ZipMember& member, std::uint64_t limit = 64u << 20) const;

    // A member within the whole-member limit, both as stored and decompressed (checked against
    // size and CRC-32 like read()); the views are valid only during `use`.
    struct MemberView {
        std::string_view stored;  // the member's data as stored (raw deflate for method 8)
        std::string_view data;    // the uncompressed bytes
        // Method 8 and the deflate stream ends at the stored data's last byte (nothing after its
        // final block), so `stored` can be copied into a gzip member as it is.
        bool exact_deflate = false;
    };
    bool fits_whole(const ZipMember& member) const {
        return member.size <= m_whole_limit && member.compressed_size <= m_whole_limit;
    }
    // Throws like read(); an internal error when !fits_whole(member).
    void view(const ZipMember& member, const std::function<void(const MemberView&)>& use) const;

    // Default 256 MiB: the memory one read may hold at once (buffer + compressed bytes).
    static constexpr std::uint64_t k_whole_member_limit = 256ull << 20;
    void set_whole_member_limit(std::uint64_t bytes) { m_whole_limit = bytes; }

  private:
    std::unique_ptr<ZipSource> m_source;
    std::string m_name;
    std::vector<ZipMember> m_members;
    std::uint64_t m_whole_limit = k_whole_member_limit;
};

}  // namespace envpack
