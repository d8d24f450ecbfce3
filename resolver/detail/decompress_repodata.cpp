// zstd and bzip2 decoding of compressed repodata (`repodata.json.zst`, `.json.bz2`).
#include <bzlib.h>

#include <memory>

#include <fmt/format.h>

#include "core/compress.h"
#include "core/error.h"
#include "resolver/repodata.h"

namespace envpack {
namespace {

Error corrupt(std::string_view source, std::string_view format, std::string_view why) {
    return Error(fmt::format("decompress repodata `{}` ({}): {}", source, format, why),
                 "the file is corrupt or truncated; fetch it again");
}

std::string unzstd(std::string_view data, std::string_view source) {
    try {
        return decompress(Compression::zstd, data);
    } catch (const Error& e) {
        throw corrupt(source, "zstd", e.what());
    }
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
