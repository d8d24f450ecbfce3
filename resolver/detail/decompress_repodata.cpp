// zstd and bzip2 decoding of compressed repodata (`repodata.json.zst`, `.json.bz2`).
#include <bzlib.h>
#include <zstd.h>

#include <memory>

#include <fmt/format.h>

#include "core/error.h"
#include "resolver/repodata.h"

namespace envpack {
namespace {

Error corrupt(std::string_view source, std::string_view format, std::string_view why) {
    return Error(fmt::format("decompress repodata `{}` ({}): {}", source, format, why),
                 "the file is corrupt or truncated; fetch it again");
}

std::string unzstd(std::string_view data, std::string_view source) {
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
            throw corrupt(source, "zstd", ZSTD_getErrorName(result));
        }
        if (result != total) {
            throw corrupt(source, "zstd", "size differs from the frame header");
        }
        return out;
    }
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    std::size_t last = 1;
    while (in.pos < in.size) {
        std::size_t old = out.size();
        out.resize(old + ZSTD_DStreamOutSize());
        ZSTD_outBuffer o{out.data() + old, out.size() - old, 0};
        last = ZSTD_decompressStream(ctx.get(), &o, &in);
        out.resize(old + o.pos);
        if (ZSTD_isError(last)) {
            throw corrupt(source, "zstd", ZSTD_getErrorName(last));
        }
        if (last == 0 && in.pos < in.size) {
            continue;  // another frame follows
        }
    }
    // Flush what the decoder still holds.
    while (last != 0) {
        std::size_t old = out.size();
        out.resize(old + ZSTD_DStreamOutSize());
        ZSTD_outBuffer o{out.data() + old, out.size() - old, 0};
        last = ZSTD_decompressStream(ctx.get(), &o, &in);
        out.resize(old + o.pos);
        if (ZSTD_isError(last)) {
            throw corrupt(source, "zstd", ZSTD_getErrorName(last));
        }
        if (o.pos == 0 && last != 0) {
            throw corrupt(source, "zstd", "truncated frame");
        }
    }
    return out;
}

std::string unbzip2(std::string_view data, std::string_view source) {
    bz_stream bz{};
    if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK) {
        throw corrupt(source, "bzip2", "cannot initialise decoder");
    }
    struct End {
        bz_stream* s;
        ~End() { BZ2_bzDecompressEnd(s); }
    } end{&bz};
    std::string out;
    bz.next_in = const_cast<char*>(data.data());
    bz.avail_in = static_cast<unsigned>(data.size());
    while (true) {
        std::size_t old = out.size();
        out.resize(old + (1u << 20));
        bz.next_out = out.data() + old;
        bz.avail_out = 1u << 20;
        int rc = BZ2_bzDecompress(&bz);
        out.resize(out.size() - bz.avail_out);
        if (rc == BZ_STREAM_END) {
            return out;
        }
        if (rc != BZ_OK) {
            throw corrupt(source, "bzip2", fmt::format("error {}", rc));
        }
        if (bz.avail_in == 0 && bz.avail_out != 0) {
            throw corrupt(source, "bzip2", "truncated stream");
        }
    }
}

}  // namespace

std::string decode_repodata(std::string data, RepodataEncoding encoding, std::string_view source) {
    switch (encoding) {
        case RepodataEncoding::zstd:
            return unzstd(data, source);
        case RepodataEncoding::bzip2:
            return unbzip2(data, source);
        case RepodataEncoding::json:
            break;
    }
    return data;
}

}  // namespace envpack
