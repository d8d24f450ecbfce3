#include <catch2/catch.hpp>

#include <zlib.h>

#include <string>

#include "builder/detail/layer_stream.h"
#include "core/compress.h"
#include "core/digest.h"
#include "core/fs.h"
#include "zip_writer.h"

using namespace envpack;

namespace {

// Everything a LayerStream gives for one blob file.
std::string read_all(const std::filesystem::path& blob, const std::string& bytes) {
    detail::LayerStream stream({{blob, Digest::of(bytes), static_cast<std::int64_t>(bytes.size())}},
                               8u << 20, {});
    std::string out;
    for (std::string_view part = stream.read(1 << 20); !part.empty(); part = stream.read(1 << 20)) {
        out.append(part);
    }
    return out;
}

}  // namespace

TEST_CASE("layer_stream: gzip members of any size, copied-in ones sized by their header") {
    // Compressed here (1 MiB chunks), a copied-in stream small enough for one call, one larger
    // than any one-call buffer (zlib streams it), then compressed chunks again.
    const std::string head(3u << 20, 'h');
    std::string small(300000, '\0');
    for (std::size_t i = 0; i < small.size(); ++i) {
        small[i] = static_cast<char>(i * 7 % 251);
    }
    const std::string large(70u << 20, 'L');
    const std::string tail = "the end\n";
    auto crc_of = [](const std::string& s) {
        return static_cast<std::uint32_t>(
            crc32(0, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
    };
    StringSink blob;
    auto gz = make_compressor(Compression::gzip, blob, 2);
    gz->write(head);
    REQUIRE(gz->write_deflated(testing::raw_deflate(small), crc_of(small), small.size()));
    REQUIRE(gz->write_deflated(testing::raw_deflate(large), crc_of(large), large.size()));
    gz->write(tail);
    gz->finish();
    TempDir dir("layer-stream-");
    const auto path = dir.path() / "blob";
    write_file_atomic(path, blob.data(), Durability::none);
    const std::string got = read_all(path, blob.data());
    REQUIRE(got.size() == head.size() + small.size() + large.size() + tail.size());
    CHECK(got == head + small + large + tail);

    // A damaged copied-in member is refused, not returned short.
    std::string bad = blob.data();
    const auto at = bad.find(testing::raw_deflate(small));
    bad[at + 1000] ^= 0x5a;
    write_file_atomic(path, bad, Durability::none);
    CHECK_THROWS(read_all(path, bad));
}
