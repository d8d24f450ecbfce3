// Streaming compressors with fixed settings, so the same input gives the same bytes on every
// machine and for every thread count.
//
// gzip: the input is cut into fixed 1 MiB chunks, each compressed by libdeflate (level 4) as one
// gzip member, in parallel; members are written in order. A multi-member gzip file is valid gzip
// (RFC 1952 §2.2) and is read by Go's compress/gzip (containerd, docker, skopeo, umoci), zlib,
// Python and `gzip -d`. The chunk size, not the thread count, decides the output (and where
// write_deflated put already deflated streams).
// zstd: libzstd level 3 with nbWorkers >= 1 (its multi-threaded format is identical for any
// worker count, unlike single-thread mode).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/fs.h"

namespace envpack {

enum class Compression { none, gzip, zstd };

std::string_view to_string(Compression c);
// "gzip" | "zstd" | "none"; nullopt otherwise.
std::optional<Compression> parse_compression(std::string_view text);
// The compressor and its library version, for layer cache keys ("libdeflate-1.14/gzip-6/1MiB").
std::string compressor_id(Compression c);

// A sink that compresses what is written and forwards the compressed bytes to `out`.
// finish() flushes everything; it must be called before `out` is used.
class CompressingSink : public Sink {
  public:
    ~CompressingSink() override = default;
    virtual void finish() = 0;
    // Appends content that is already deflated — `deflate` is a raw deflate stream (RFC 1951, as
    // a zip member holds it, nothing after its final block) of `size` bytes whose CRC-32 is
    // `crc32` — without compressing it again, when this compressor can: gzip ends its current
    // member and writes these bytes as a member of their own (its size in the header, see
    // gzip_member_size_hint). Returns false when it cannot (zstd,
    // none); the caller then writes the uncompressed bytes. The caller vouches for the three
    // arguments agreeing (the data was inflated and checked).
    virtual bool write_deflated(std::string_view deflate, std::uint32_t crc32, std::uint64_t size) {
        (void)deflate;
        (void)crc32;
        (void)size;
        return false;
    }
};

// `threads` = 0: default_thread_count().
std::unique_ptr<CompressingSink> make_compressor(Compression c, Sink& out, unsigned threads = 0);

// Forwards bytes to `next` (if any) while computing their sha256 and count.
class HashingSink : public Sink {
  public:
    explicit HashingSink(Sink* next = nullptr) : m_next(next) {}
    void write(const void* data, size_t size) override;
    using Sink::write;
    // Hashes and counts bytes without forwarding them: the caller hands `next` the same content
    // in another form (CompressingSink::write_deflated).
    void hash_only(std::string_view data);
    Digest finish() { return m_sha.finish(); }
    std::uint64_t size() const { return m_size; }

  private:
    Sink* m_next;
    Sha256 m_sha;
    std::uint64_t m_size = 0;
};

// Collects bytes in memory (tests, small manifests).
class StringSink : public Sink {
  public:
    void write(const void* data, size_t size) override {
        m_data.append(static_cast<const char*>(data), size);
    }
    using Sink::write;
    std::string& data() { return m_data; }

  private:
    std::string m_data;
};

// The uncompressed size a gzip member written by write_deflated announces in its header's extra
// field (readers that do not know the field skip it, as RFC 1952 asks); nullopt for any other
// member. `member` starts at the member's first byte.
std::optional<std::uint64_t> gzip_member_size_hint(std::string_view member);

// Decompresses gzip (multi-member) or zstd data in memory; used by tests and small blobs.
std::string decompress(Compression c, std::string_view data);

}  // namespace envpack

namespace envpack {

// Streams a gzip (multi-member) or zstd file, decompressed, to `out`. Throws Error naming the file
// when it is damaged.
void decompress_file(Compression c, const std::filesystem::path& path, Sink& out);

// Detects the compression of a blob from its first bytes (gzip magic 1f 8b, zstd 28 b5 2f fd).
Compression sniff_compression(std::string_view first_bytes);

}  // namespace envpack
