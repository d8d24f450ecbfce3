#include "builder/detail/layer_stream.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <libdeflate.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "core/compress.h"
#include "core/error.h"

namespace envpack::detail {

namespace {

constexpr std::size_t k_chunk = 1 << 20;
// A gzip member is decoded in one call when its output fits this; larger members (one-member
// gzips from other tools) are streamed through zlib instead of being held in memory.
constexpr std::size_t k_max_member_out = 64 << 20;

struct Stopped {};  // the consumer went away; the producer ends quietly

class Mapping {
  public:
    Mapping(const std::filesystem::path& path, const Digest& digest, std::int64_t expected) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            throw_errno(fmt::format("open layer {}", digest.to_string()), path.string(), errno,
                        "the store is incomplete: re-pull or re-import the image");
        }
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            int err = errno;
            ::close(fd);
            throw_errno("stat", path.string(), err);
        }
        m_size = static_cast<std::size_t>(st.st_size);
        if (expected >= 0 && static_cast<std::int64_t>(m_size) != expected) {
            ::close(fd);
            throw Error(fmt::format("layer {} is {} bytes, its descriptor says {}",
                                    digest.to_string(), m_size, expected),
                        "the store is damaged: re-pull or re-import the image");
        }
        if (m_size > 0) {
            void* p = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                int err = errno;
                ::close(fd);
                throw_errno("map", path.string(), err);
            }
            m_data = static_cast<const char*>(p);
            ::madvise(p, m_size, MADV_SEQUENTIAL);
        }
        ::close(fd);
    }
    ~Mapping() {
        if (m_data != nullptr) {
            ::munmap(const_cast<char*>(m_data), m_size);
        }
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    const char* data() const { return m_data; }
    std::size_t size() const { return m_size; }

  private:
    const char* m_data = nullptr;
    std::size_t m_size = 0;
};

Error damaged(const LayerBlob& blob, std::string_view why) {
    return Error(fmt::format("layer {} cannot be decompressed: {}", blob.digest.to_string(), why),
                 "the store is damaged: re-pull or re-import the image");
}

}  // namespace

LayerStream::LayerStream(std::vector<LayerBlob> layers, std::size_t max_buffered,
                         std::function<void(std::uint64_t)> on_read)
    : m_layers(std::move(layers)), m_max_buffered(max_buffered), m_on_read(std::move(on_read)) {
    m_thread = std::thread([this] { produce(); });
}

LayerStream::~LayerStream() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_cv.notify_all();
    m_thread.join();
}

bool LayerStream::push(Item item) {
    std::unique_lock lock(m_mutex);
    m_cv.wait(lock, [&] {
        return m_stopping || item.kind != Item::Kind::data || m_buffered < m_max_buffered;
    });
    if (m_stopping) {
        return false;
    }
    m_buffered += item.bytes.size();
    m_queue.push_back(std::move(item));
    m_cv.notify_all();
    return true;
}

void LayerStream::push_bytes(std::string bytes) {
    if (bytes.empty()) {
        return;
    }
    Item item;
    item.bytes = std::move(bytes);
    if (!push(std::move(item))) {
        throw Stopped{};
    }
}

void LayerStream::produce() {
    try {
        for (const auto& blob : m_layers) {
            produce_layer(blob);
            if (!push(Item{Item::Kind::end, {}, nullptr})) {
                return;
            }
        }
    } catch (const Stopped&) {
        return;
    } catch (...) {
        push(Item{Item::Kind::error, {}, std::current_exception()});
    }
}

void LayerStream::produce_layer(const LayerBlob& blob) {
    Mapping map(blob.path, blob.digest, blob.size);
    const char* base = map.data();
    const std::size_t size = map.size();
    Sha256 sha;
    std::size_t hashed = 0;
    auto hash_to = [&](std::size_t end) {
        if (end > hashed) {
            sha.update(base + hashed, end - hashed);
            if (m_on_read) {
                m_on_read(end - hashed);
            }
            hashed = end;
        }
    };
    Compression c = sniff_compression(
        std::string_view(base == nullptr ? "" : base, std::min<std::size_t>(size, 4)));
    // zlib for a gzip member too large for one libdeflate call: streams it; returns where the
    // next member starts.
    auto inflate_member = [&](std::size_t pos) {
        z_stream zs{};
        if (inflateInit2(&zs, 15 + 16) != Z_OK) {
            throw damaged(blob, "zlib cannot start");
        }
        std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, &inflateEnd);
        std::size_t fed = pos;
        for (int rc = Z_OK; rc != Z_STREAM_END;) {
            if (zs.avail_in == 0) {
                if (fed >= size) {
                    throw damaged(blob, "truncated gzip stream");
                }
                std::size_t n = std::min(k_chunk, size - fed);
                hash_to(fed + n);
                zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(base + fed));
                zs.avail_in = static_cast<uInt>(n);
                fed += n;
            }
            std::string out(k_chunk, '\0');
            zs.next_out = reinterpret_cast<Bytef*>(out.data());
            zs.avail_out = static_cast<uInt>(out.size());
            rc = inflate(&zs, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && zs.avail_in == 0)) {
                throw damaged(blob, zs.msg != nullptr ? zs.msg : "corrupt gzip data");
            }
            out.resize(out.size() - zs.avail_out);
            if (!out.empty()) {
                push_bytes(std::move(out));
            }
        }
        return fed - zs.avail_in;
    };

    switch (c) {
        case Compression::none:
            for (std::size_t pos = 0; pos < size; pos += k_chunk) {
                std::size_t n = std::min(k_chunk, size - pos);
                hash_to(pos + n);
                push_bytes(std::string(base + pos, n));
            }
            break;
        case Compression::zstd: {
            std::unique_ptr<ZSTD_DCtx, std::size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(),
                                                                      &ZSTD_freeDCtx);
            std::size_t last = 0;
            for (std::size_t pos = 0; pos < size;) {
                std::size_t n = std::min(k_chunk, size - pos);
                hash_to(pos + n);
                ZSTD_inBuffer in{base + pos, n, 0};
                pos += n;
                while (in.pos < in.size) {
                    std::string out(k_chunk, '\0');
                    ZSTD_outBuffer o{out.data(), out.size(), 0};
                    last = ZSTD_decompressStream(d.get(), &o, &in);
                    if (ZSTD_isError(last)) {
                        throw damaged(blob, ZSTD_getErrorName(last));
                    }
                    out.resize(o.pos);
                    push_bytes(std::move(out));
                }
            }
            // What the decoder still holds once all input is in.
            while (last != 0) {
                ZSTD_inBuffer in{nullptr, 0, 0};
                std::string out(k_chunk, '\0');
                ZSTD_outBuffer o{out.data(), out.size(), 0};
                last = ZSTD_decompressStream(d.get(), &o, &in);
                if (ZSTD_isError(last)) {
                    throw damaged(blob, ZSTD_getErrorName(last));
                }
                if (o.pos == 0 && last != 0) {
                    throw damaged(blob, "truncated zstd stream");
                }
                out.resize(o.pos);
                push_bytes(std::move(out));
            }
            break;
        }
        case Compression::gzip: {
            std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> d(
                libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
            constexpr std::size_t k_default_cap = k_chunk + 4096;  // our 1 MiB chunks
            std::size_t cap = k_default_cap;  // grows while one member does not fit
            for (std::size_t pos = 0; pos < size;) {
                // A member whose header says its size (a wheel's file copied into a pip layer)
                // gets a buffer of that size, or zlib when it is too large for one.
                if (auto hint = gzip_member_size_hint(std::string_view(base + pos, size - pos))) {
                    if (*hint > k_max_member_out) {
                        pos = inflate_member(pos);
                        continue;
                    }
                    cap = std::max(cap, std::max<std::size_t>(static_cast<std::size_t>(*hint), 1));
                }
                std::string out(cap, '\0');
                std::size_t in_used = 0;
                std::size_t out_used = 0;
                auto r = libdeflate_gzip_decompress_ex(d.get(), base + pos, size - pos, out.data(),
                                                       out.size(), &in_used, &out_used);
                if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
                    if (cap >= k_max_member_out) {
                        pos = inflate_member(pos);
                        cap = k_default_cap;
                    } else {
                        cap = std::min(cap * 4, k_max_member_out);
                    }
                    continue;
                }
                if (r != LIBDEFLATE_SUCCESS) {
                    throw damaged(blob, "corrupt gzip data");
                }
                hash_to(pos + in_used);
                pos += in_used;
                out.resize(out_used);
                push_bytes(std::move(out));
                cap = k_default_cap;
            }
            break;
        }
    }
    hash_to(size);
    Digest actual = sha.finish();
    if (actual != blob.digest) {
        throw Error(
            fmt::format("layer {} is corrupt: its content hashes to {}", blob.digest.to_string(),
                        actual.to_string()),
            fmt::format("delete {} and re-pull or re-import the image", blob.path.string()));
    }
}

std::string_view LayerStream::read(std::size_t max) {
    if (m_at_end) {
        return {};
    }
    while (m_pos >= m_current.size()) {
        Item item;
        {
            std::unique_lock lock(m_mutex);
            m_cv.wait(lock, [&] { return !m_queue.empty(); });
            item = std::move(m_queue.front());
            m_queue.pop_front();
            m_buffered -= item.bytes.size();
        }
        m_cv.notify_all();
        switch (item.kind) {
            case Item::Kind::data:
                m_current = std::move(item.bytes);
                m_pos = 0;
                break;
            case Item::Kind::end:
                m_current.clear();
                m_pos = 0;
                m_at_end = true;
                return {};
            case Item::Kind::error:
                m_current.clear();
                m_pos = 0;
                m_at_end = true;
                std::rethrow_exception(item.error);
        }
    }
    std::size_t n = std::min(max, m_current.size() - m_pos);
    std::string_view v(m_current.data() + m_pos, n);
    m_pos += n;
    return v;
}

void LayerStream::next_layer() {
    while (!read(k_chunk).empty()) {
    }
    m_at_end = false;
}

}  // namespace envpack::detail
