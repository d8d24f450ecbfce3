#include <catch2/catch.hpp>

#include <random>

#include "core/compress.h"
#include "core/error.h"
#include "core/process.h"
#include "core/thread_pool.h"
#include "zip_writer.h"

using namespace envpack;

namespace {

std::string sample(size_t n) {
    std::mt19937 rng(42);
    std::string s;
    s.reserve(n);
    const char* words[] = {"alpha ", "beta ", "gamma ", "delta\n", "\x01\x02", "conda "};
    while (s.size() < n) {
        s += words[rng() % 6];
        if (rng() % 7 == 0) {
            s += static_cast<char>(rng());
        }
    }
    s.resize(n);
    return s;
}

std::string compress(Compression c, const std::string& in, unsigned threads,
                     size_t piece = 100000) {
    StringSink out;
    auto z = make_compressor(c, out, threads);
    for (size_t i = 0; i < in.size(); i += piece) {
        z->write(in.data() + i, std::min(piece, in.size() - i));
    }
    z->finish();
    return out.data();
}

}  // namespace

TEST_CASE("compression round-trips and does not depend on thread count or write sizes") {
    std::string in = sample(5 * 1024 * 1024 + 123);
    for (Compression c : {Compression::gzip, Compression::zstd}) {
        INFO(to_string(c));
        std::string one = compress(c, in, 1);
        std::string four = compress(c, in, 4, 7777);
        CHECK(one == four);
        CHECK(one.size() < in.size() / 2);
        CHECK(decompress(c, one) == in);
    }
}

TEST_CASE("empty input gives a valid stream") {
    for (Compression c : {Compression::gzip, Compression::zstd}) {
        std::string z = compress(c, "", 2);
        CHECK_FALSE(z.empty());
        CHECK(decompress(c, z).empty());
    }
}

TEST_CASE("multi-member gzip output is read by gzip(1)") {
    std::string in = sample(3 * 1024 * 1024);
    std::string z = compress(Compression::gzip, in, 2);
    ProcessOptions o;
    o.stdin_data = z;
    auto r = run_process({"gzip", "-dc"}, o);
    REQUIRE(r.ok());
    CHECK(r.out == in);
}

TEST_CASE("sniff_compression and parse_compression") {
    CHECK(sniff_compression("\x1f\x8b\x08") == Compression::gzip);
    CHECK(sniff_compression("\x28\xb5\x2f\xfd") == Compression::zstd);
    CHECK(sniff_compression("ustar") == Compression::none);
    CHECK(parse_compression("zstd") == Compression::zstd);
    CHECK_FALSE(parse_compression("lz4"));
}

TEST_CASE("ThreadPool runs tasks and propagates exceptions") {
    ThreadPool pool(3);
    std::vector<std::future<int>> fs;
    for (int i = 0; i < 50; ++i) {
        fs.push_back(pool.submit([i] { return i * i; }));
    }
    int sum = 0;
    for (auto& f : fs) {
        sum += f.get();
    }
    CHECK(sum == 40425);
    auto bad = pool.submit([]() -> int { throw std::runtime_error("boom"); });
    CHECK_THROWS_AS(bad.get(), std::runtime_error);
}

TEST_CASE("truncated compressed data is an error, not a short result") {
    std::string in = sample(2 * 1024 * 1024);
    for (Compression c : {Compression::gzip, Compression::zstd}) {
        INFO(to_string(c));
        std::string z = compress(c, in, 2);
        CHECK_THROWS_AS(decompress(c, z.substr(0, z.size() / 2)), Error);
    }
}

TEST_CASE("compress: gzip takes an already deflated stream as a member of its own") {
    const std::string before = sample(3000);
    const std::string middle = sample(200000);
    const std::string after = sample(5000);
    const std::string deflated = envpack::testing::raw_deflate(middle);
    const std::uint32_t crc = static_cast<std::uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(middle.data()), static_cast<uInt>(middle.size())));
    for (unsigned threads : {1u, 3u}) {
        StringSink out;
        auto gz = make_compressor(Compression::gzip, out, threads);
        gz->write(before);
        CHECK(gz->write_deflated(deflated, crc, middle.size()));
        gz->write(after);
        gz->finish();
        CHECK(decompress(Compression::gzip, out.data()) == before + middle + after);
        // The stream is in the output as it was given, framed as a gzip member whose header
        // says its size; members compressed here say nothing.
        const auto at = out.data().find(deflated);
        REQUIRE(at != std::string::npos);
        REQUIRE(at >= 24);
        CHECK(out.data().compare(at - 24, 4, "\x1f\x8b\x08\x04") == 0);
        CHECK(gzip_member_size_hint(std::string_view(out.data()).substr(at - 24)) == middle.size());
        CHECK_FALSE(gzip_member_size_hint(out.data()));
        CHECK_FALSE(gzip_member_size_hint("\x1f\x8b\x08\x04\0\0\0\0\0\xff\x40\0"));  // cut short
    }
    // zstd and no compression cannot take it: the caller writes the plain bytes.
    for (Compression c : {Compression::zstd, Compression::none}) {
        StringSink out;
        auto z = make_compressor(c, out, 1);
        CHECK_FALSE(z->write_deflated(deflated, crc, middle.size()));
        z->finish();
        CHECK(out.data().find(deflated) == std::string::npos);
    }
}
