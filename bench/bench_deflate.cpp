// Chooses the gzip compressor by measurement: compresses one input (a tar, read into memory)
// single-threaded with zlib level 6 (what `gzip -6` does) and libdeflate levels 1..9, in 1 MiB
// chunks as envpack's layer writer does, and prints MB/s and size for each.
// Usage: bench_deflate FILE
#include <chrono>
#include <cstdio>
#include <string>

#include <libdeflate.h>
#include <zlib.h>

#include "core/fs.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: bench_deflate FILE\n");
        return 2;
    }
    std::string in = envpack::read_file(argv[1]);
    constexpr size_t k_chunk = 1 << 20;
    auto report = [&](const char* name, double secs, size_t out) {
        std::printf("%-24s %8.1f MB/s %10.1f MB (ratio %.2f)\n", name, in.size() / secs / 1e6,
                    out / 1e6, double(in.size()) / double(out));
    };
    {
        auto t0 = std::chrono::steady_clock::now();
        uLongf cap = compressBound(in.size());
        std::string out(cap, '\0');
        z_stream zs{};
        deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        zs.next_in = reinterpret_cast<Bytef*>(in.data());
        zs.avail_in = in.size();
        zs.next_out = reinterpret_cast<Bytef*>(out.data());
        zs.avail_out = out.size();
        deflate(&zs, Z_FINISH);
        size_t n = zs.total_out;
        deflateEnd(&zs);
        report("zlib -6 (one stream)",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), n);
    }
    for (int level = 1; level <= 9; ++level) {
        auto t0 = std::chrono::steady_clock::now();
        libdeflate_compressor* c = libdeflate_alloc_compressor(level);
        std::string out(libdeflate_gzip_compress_bound(c, k_chunk), '\0');
        size_t total = 0;
        for (size_t off = 0; off < in.size(); off += k_chunk) {
            size_t len = std::min(k_chunk, in.size() - off);
            total += libdeflate_gzip_compress(c, in.data() + off, len, out.data(), out.size());
        }
        libdeflate_free_compressor(c);
        std::string name = "libdeflate -" + std::to_string(level) + " (1 MiB)";
        report(name.c_str(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), total);
    }
    return 0;
}
