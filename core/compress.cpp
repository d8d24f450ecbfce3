#include "core/compress.h"

#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include "core/error.h"
#include "core/thread_pool.h"

namespace envpack {

namespace {

constexpr size_t k_gzip_chunk = 1 << 20;
constexpr int k_gzip_level = 4;  // chosen by bench/bench_deflate: 4.6x zlib -6 per core, +2.6% size
constexpr int k_zstd_level = 3;
// The extra field (RFC 1952 2.3.1.1) in the header of a copied-in member: subfield `EP`, 8 bytes,
// the member's uncompressed size, so a reader can size its buffer before decoding.
constexpr char k_size_field[2] = {'E', 'P'};
constexpr size_t k_sized_header = 10 + 2 + 4 + 8;
// Chunks up to this size that end before a copied-in deflate stream are compressed inline.
constexpr size_t k_inline_max = 64 << 10;

// The compressor threads, one pool per thread count for the whole process: a build writes dozens
// of layers, and starting threads for each (each with its libdeflate state and malloc arena,
// fresh pages every time) cost more than compressing a small layer.
ThreadPool& compressor_pool(unsigned threads) {
    static std::mutex mutex;
    static std::map<unsigned, std::unique_ptr<ThreadPool>> pools;
    std::lock_guard lock(mutex);
    auto& pool = pools[threads];
    if (!pool) {
        pool = std::make_unique<ThreadPool>(threads);
    }
    return *pool;
}

// One gzip member of `chunk`.
std::string compress_chunk(std::string_view chunk) {
    thread_local std::unique_ptr<libdeflate_compressor, decltype(&libdeflate_free_compressor)> c(
        libdeflate_alloc_compressor(k_gzip_level), &libdeflate_free_compressor);
    std::string out(libdeflate_gzip_compress_bound(c.get(), chunk.size()), '\0');
    size_t n =
        libdeflate_gzip_compress(c.get(), chunk.data(), chunk.size(), out.data(), out.size());
    if (n == 0) {
        throw Error("gzip: compression failed");
    }
    out.resize(n);
    return out;
}

class GzipSink : public CompressingSink {
  public:
    GzipSink(Sink& out, unsigned threads)
        : m_out(out), m_pool(compressor_pool(threads)), m_max_inflight(2 * m_pool.size() + 1) {
        m_chunk.reserve(k_gzip_chunk);
    }
    ~GzipSink() override {
        // Drain outstanding work so worker threads never touch freed buffers.
        for (auto& f : m_inflight) {
            f.wait();
        }
    }

    void write(const void* data, size_t size) override {
        const char* p = static_cast<const char*>(data);
        while (size > 0) {
            size_t n = std::min(size, k_gzip_chunk - m_chunk.size());
            m_chunk.append(p, n);
            p += n;
            size -= n;
            if (m_chunk.size() == k_gzip_chunk) {
                submit();
            }
        }
    }
    using Sink::write;

    bool write_deflated(std::string_view deflate, std::uint32_t crc32,
                        std::uint64_t size) override {
        // What was written before ends its member here. A small rest (the tar header before a
        // file) is compressed on this thread: handing it to a worker and waiting for it costs
        // more than compressing it.
        if (m_chunk.size() > k_inline_max) {
            submit();
        }
        while (!m_inflight.empty()) {
            drain_one();
        }
        if (!m_chunk.empty()) {
            m_out.write(compress_chunk(m_chunk));
            m_chunk.clear();
        }
        m_any = true;
        // The gzip header (no name, no mtime, OS unknown) with the member's size in an extra
        // field (gzip_member_size_hint), the stream, the trailer (CRC-32, size mod 2^32,
        // little-endian).
        char header[k_sized_header] = {
            '\x1f',          '\x8b',          8, 4, 0, 0, 0, 0, 0, '\xff', 12, 0,
            k_size_field[0], k_size_field[1], 8, 0};
        char trailer[8];
        for (int i = 0; i < 4; ++i) {
            trailer[i] = static_cast<char>((crc32 >> (8 * i)) & 0xff);
            trailer[4 + i] = static_cast<char>((size >> (8 * i)) & 0xff);
        }
        for (int i = 0; i < 8; ++i) {
            header[16 + i] = static_cast<char>((size >> (8 * i)) & 0xff);
        }
        m_out.write(header, sizeof header);
        m_out.write(deflate.data(), deflate.size());
        m_out.write(trailer, sizeof trailer);
        return true;
    }

    void finish() override {
        // An empty stream still gets one (empty) member so the result is a valid gzip file.
        if (!m_chunk.empty() || !m_any) {
            submit();
        }
        while (!m_inflight.empty()) {
            drain_one();
        }
    }

  private:
    void submit() {
        m_any = true;
        auto chunk = std::make_shared<std::string>(std::move(m_chunk));
        m_chunk = std::string();
        m_chunk.reserve(k_gzip_chunk);
        m_inflight.push_back(m_pool.submit([chunk] { return compress_chunk(*chunk); }));
        while (m_inflight.size() >= m_max_inflight) {
            drain_one();
        }
    }
    void drain_one() {
        std::string data = m_inflight.front().get();
        m_inflight.pop_front();
        m_out.write(data);
    }

    Sink& m_out;
    ThreadPool& m_pool;
    size_t m_max_inflight;
    std::string m_chunk;
    std::deque<std::future<std::string>> m_inflight;
    bool m_any = false;
};

class ZstdSink : public CompressingSink {
  public:
    ZstdSink(Sink& out, unsigned threads)
        : m_out(out), m_ctx(ZSTD_createCCtx()), m_buf(ZSTD_CStreamOutSize(), '\0') {
        ZSTD_CCtx_setParameter(m_ctx, ZSTD_c_compressionLevel, k_zstd_level);
        ZSTD_CCtx_setParameter(m_ctx, ZSTD_c_checksumFlag, 0);
        // nbWorkers >= 1 always: the multi-threaded format does not depend on the count.
        size_t rc = ZSTD_CCtx_setParameter(m_ctx, ZSTD_c_nbWorkers,
                                           static_cast<int>(std::max(1u, threads)));
        if (ZSTD_isError(rc)) {
            throw Error("zstd: this libzstd has no multi-threading support",
                        "install a libzstd built with threads (Debian's is)");
        }
    }
    ~ZstdSink() override { ZSTD_freeCCtx(m_ctx); }

    void write(const void* data, size_t size) override { pump(data, size, ZSTD_e_continue); }
    using Sink::write;
    void finish() override { pump(nullptr, 0, ZSTD_e_end); }

  private:
    void pump(const void* data, size_t size, ZSTD_EndDirective mode) {
        ZSTD_inBuffer in{data, size, 0};
        for (;;) {
            ZSTD_outBuffer out{m_buf.data(), m_buf.size(), 0};
            size_t rc = ZSTD_compressStream2(m_ctx, &out, &in, mode);
            if (ZSTD_isError(rc)) {
                throw Error(fmt::format("zstd: {}", ZSTD_getErrorName(rc)));
            }
            if (out.pos > 0) {
                m_out.write(m_buf.data(), out.pos);
            }
            bool done = mode == ZSTD_e_end ? rc == 0 : in.pos == in.size;
            if (done) {
                return;
            }
        }
    }
    Sink& m_out;
    ZSTD_CCtx* m_ctx;
    std::string m_buf;
};

class PlainSink : public CompressingSink {
  public:
    explicit PlainSink(Sink& out) : m_out(out) {}
    void write(const void* data, size_t size) override { m_out.write(data, size); }
    using Sink::write;
    void finish() override {}

  private:
    Sink& m_out;
};

}  // namespace

std::optional<std::uint64_t> gzip_member_size_hint(std::string_view member) {
    if (member.size() < 12 || member[0] != '\x1f' || member[1] != '\x8b' ||
        (static_cast<unsigned char>(member[3]) & 4) == 0) {
        return std::nullopt;
    }
    auto u16 = [&](std::size_t at) {
        return static_cast<std::size_t>(static_cast<unsigned char>(member[at])) |
               static_cast<std::size_t>(static_cast<unsigned char>(member[at + 1])) << 8;
    };
    const std::size_t end = 12 + u16(10);
    if (end > member.size()) {
        return std::nullopt;
    }
    for (std::size_t at = 12; at + 4 <= end;) {
        const std::size_t len = u16(at + 2);
        if (at + 4 + len > end) {
            return std::nullopt;
        }
        if (member[at] == k_size_field[0] && member[at + 1] == k_size_field[1] && len == 8) {
            std::uint64_t size = 0;
            for (int i = 7; i >= 0; --i) {
                size = size << 8 | static_cast<unsigned char>(member[at + 4 + i]);
            }
            return size;
        }
        at += 4 + len;
    }
    return std::nullopt;
}

std::string_view to_string(Compression c) {
    switch (c) {
        case Compression::gzip:
            return "gzip";
        case Compression::zstd:
            return "zstd";
        case Compression::none:
            return "none";
    }
    return "none";
}

std::optional<Compression> parse_compression(std::string_view text) {
    if (text == "gzip") {
        return Compression::gzip;
    }
    if (text == "zstd") {
        return Compression::zstd;
    }
    if (text == "none") {
        return Compression::none;
    }
    return std::nullopt;
}

std::string compressor_id(Compression c) {
    switch (c) {
        case Compression::gzip:
            return fmt::format("libdeflate-{}/gzip-{}/chunk-{}", LIBDEFLATE_VERSION_STRING,
                               k_gzip_level, k_gzip_chunk);
        case Compression::zstd:
            return fmt::format("zstd-{}/level-{}/mt", ZSTD_versionString(), k_zstd_level);
        case Compression::none:
            return "none";
    }
    return "none";
}

std::unique_ptr<CompressingSink> make_compressor(Compression c, Sink& out, unsigned threads) {
    if (threads == 0) {
        threads = default_thread_count();
    }
    switch (c) {
        case Compression::gzip:
            return std::make_unique<GzipSink>(out, threads);
        case Compression::zstd:
            return std::make_unique<ZstdSink>(out, threads);
        case Compression::none:
            return std::make_unique<PlainSink>(out);
    }
    return std::make_unique<PlainSink>(out);
}

void HashingSink::write(const void* data, size_t size) {
    m_sha.update(data, size);
    m_size += size;
    if (m_next != nullptr) {
        m_next->write(data, size);
    }
}

void HashingSink::hash_only(std::string_view data) {
    m_sha.update(data.data(), data.size());
    m_size += data.size();
}

namespace {

// zstd in memory: one call straight into the final buffer when the (single) frame declares
// its size, else streaming; a truncated stream is an error, not a short result.
std::string unzstd_memory(std::string_view data) {
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    std::string out;
    // When the frames declare their sizes (zstd's CLI and libraries do for files), decode in one
    // call straight into the final buffer: no window copies and no zero-filling.
    unsigned long long total = ZSTD_getFrameContentSize(data.data(), data.size());
    std::size_t first_frame = ZSTD_findFrameCompressedSize(data.data(), data.size());
    bool one_frame = !ZSTD_isError(first_frame) && first_frame == data.size();
    if (one_frame && total != ZSTD_CONTENTSIZE_UNKNOWN && total != ZSTD_CONTENTSIZE_ERROR &&
        total < (1ull << 36)) {
        std::size_t result = 0;
        out.resize_and_overwrite(total, [&](char* p, std::size_t n) {
            result = ZSTD_decompressDCtx(ctx.get(), p, n, data.data(), data.size());
            return ZSTD_isError(result) ? std::size_t{0} : result;
        });
        if (ZSTD_isError(result)) {
            throw Error(fmt::format("zstd: {}", ZSTD_getErrorName(result)));
        }
        if (result != total) {
            throw Error("zstd: size differs from the frame header");
        }
        return out;
    }
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    std::size_t pending = 1;  // nonzero while the current frame is incomplete
    // One loop for the input and for what the decoder still holds once it is consumed; another
    // frame may follow a finished one.
    while (in.pos < in.size || pending != 0) {
        std::size_t old = out.size();
        out.resize(old + ZSTD_DStreamOutSize());
        ZSTD_outBuffer o{out.data() + old, out.size() - old, 0};
        pending = ZSTD_decompressStream(ctx.get(), &o, &in);
        out.resize(old + o.pos);
        if (ZSTD_isError(pending)) {
            throw Error(fmt::format("zstd: {}", ZSTD_getErrorName(pending)));
        }
        if (in.pos == in.size && o.pos == 0 && pending != 0) {
            throw Error("zstd: truncated frame");
        }
    }
    return out;
}

}  // namespace

// Streams `c`-compressed bytes from `f` (gzip: every member) to `out`; `name` goes in errors.
static void decompress_stream(Compression c, FILE* f, Sink& out, std::string_view name);

std::string decompress(Compression c, std::string_view data) {
    if (c == Compression::none) {
        return std::string(data);
    }
    if (c == Compression::zstd) {
        return unzstd_memory(data);
    }
    // gzip: the streaming decoder, reading the bytes through a memory FILE.
    std::unique_ptr<FILE, int (*)(FILE*)> f(
        fmemopen(const_cast<char*>(data.data()), data.size(), "rb"), &std::fclose);
    if (!f) {
        throw Error("gzip: cannot open the data as a stream");
    }
    StringSink sink;
    decompress_stream(c, f.get(), sink, "gzip data");
    return std::move(sink.data());
}

}  // namespace envpack

namespace envpack {

Compression sniff_compression(std::string_view b) {
    if (b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0x1f &&
        static_cast<unsigned char>(b[1]) == 0x8b) {
        return Compression::gzip;
    }
    if (b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0x28 &&
        static_cast<unsigned char>(b[1]) == 0xb5 && static_cast<unsigned char>(b[2]) == 0x2f &&
        static_cast<unsigned char>(b[3]) == 0xfd) {
        return Compression::zstd;
    }
    return Compression::none;
}

static void decompress_stream(Compression c, FILE* f, Sink& out, std::string_view name) {
    std::string in(1 << 20, '\0');
    std::string buf(1 << 20, '\0');
    auto damaged = [&](std::string_view why) {
        return Error(fmt::format("decompress `{}`: {}", name, why),
                     "the data is damaged; re-fetch it");
    };
    if (c == Compression::none) {
        size_t n;
        while ((n = std::fread(in.data(), 1, in.size(), f)) > 0) {
            out.write(in.data(), n);
        }
        return;
    }
    if (c == Compression::zstd) {
        std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(), &ZSTD_freeDCtx);
        size_t n;
        size_t last = 0;
        while ((n = std::fread(in.data(), 1, in.size(), f)) > 0) {
            ZSTD_inBuffer ib{in.data(), n, 0};
            while (ib.pos < ib.size) {
                ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
                last = ZSTD_decompressStream(d.get(), &ob, &ib);
                if (ZSTD_isError(last)) {
                    throw damaged(ZSTD_getErrorName(last));
                }
                out.write(buf.data(), ob.pos);
            }
        }
        if (last != 0) {
            throw damaged("truncated zstd stream");
        }
        return;
    }
    z_stream zs{};
    inflateInit2(&zs, 15 + 32);
    std::unique_ptr<z_stream, int (*)(z_stream*)> zguard(&zs, &inflateEnd);
    bool ended = false;
    size_t n;
    while ((n = std::fread(in.data(), 1, in.size(), f)) > 0) {
        zs.next_in = reinterpret_cast<Bytef*>(in.data());
        zs.avail_in = static_cast<uInt>(n);
        while (zs.avail_in > 0) {
            if (ended) {
                inflateReset(&zs);  // next gzip member
                ended = false;
            }
            zs.next_out = reinterpret_cast<Bytef*>(buf.data());
            zs.avail_out = static_cast<uInt>(buf.size());
            int rc = inflate(&zs, Z_NO_FLUSH);
            out.write(buf.data(), buf.size() - zs.avail_out);
            if (rc == Z_STREAM_END) {
                ended = true;
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                throw damaged(zs.msg != nullptr ? zs.msg : "corrupt gzip data");
            }
        }
    }
    // Flush what inflate still holds.
    while (!ended) {
        zs.next_out = reinterpret_cast<Bytef*>(buf.data());
        zs.avail_out = static_cast<uInt>(buf.size());
        int rc = inflate(&zs, Z_FINISH);
        out.write(buf.data(), buf.size() - zs.avail_out);
        if (rc == Z_STREAM_END) {
            ended = true;
        } else if (zs.avail_out != 0) {
            throw damaged("truncated gzip stream");
        }
    }
}

void decompress_file(Compression c, const std::filesystem::path& path, Sink& out) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) {
        throw_errno("open", path.string(), errno);
    }
    decompress_stream(c, f.get(), out, path.string());
}

}  // namespace envpack
