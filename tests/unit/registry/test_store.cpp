#include <catch2/catch.hpp>

#include <fstream>

#include "core/error.h"
#include "registry/store.h"

using namespace envpack;
namespace fs = std::filesystem;

namespace {

Descriptor add_image(Store& s, const std::string& layer_data, const std::string& name) {
    Descriptor layer = s.put_blob(layer_data, media_type::k_oci_layer_tar);
    ImageConfig c;
    c.diff_ids = {layer.digest};
    Manifest m;
    m.config = s.put_blob(c.to_bytes(), media_type::k_oci_config);
    m.layers = {layer};
    Descriptor md = s.put_blob(m.to_bytes(), media_type::k_oci_manifest);
    s.tag(name, md);
    return md;
}

}  // namespace

TEST_CASE("a new store is an OCI layout") {
    TempDir dir;
    Store s(dir.path() / "store");
    CHECK(read_file(dir.path() / "store" / "oci-layout") == R"({"imageLayoutVersion":"1.0.0"})");
    CHECK(fs::is_directory(dir.path() / "store" / "blobs" / "sha256"));
    CHECK(s.list().empty());
}

TEST_CASE("tag, resolve, list and untag") {
    TempDir dir;
    Store s(dir.path());
    Descriptor a = add_image(s, "layer-a", "demo/a:1");
    Descriptor b = add_image(s, "layer-b", "demo/b:1");
    CHECK(s.resolve("demo/a:1")->digest == a.digest);
    CHECK(s.resolve(a.digest.to_string())->digest == a.digest);
    CHECK(s.resolve("demo/a:1@" + b.digest.to_string())->digest == b.digest);
    CHECK_FALSE(s.resolve("demo/c:1"));
    CHECK_THROWS_AS(s.resolve_or_throw("demo/c:1"), Error);
    add_image(s, "layer-a2", "demo/a:1");  // retag replaces
    auto images = s.list();
    REQUIRE(images.size() == 2);
    CHECK(images[0].name == "demo/a:1");
    CHECK(images[0].manifest.annotations.at("org.opencontainers.image.ref.name") == "demo/a:1");
    CHECK(s.untag("demo/b:1"));
    CHECK_FALSE(s.untag("demo/b:1"));
}

TEST_CASE("corrupt blobs are reported, never served") {
    TempDir dir;
    Store s(dir.path());
    Descriptor d = s.put_blob("precious", "application/octet-stream");
    std::ofstream(s.blob_path(d.digest), std::ios::trunc) << "tampered";
    CHECK_THROWS_WITH(s.read_blob(d.digest),
                      Catch::Contains("corrupt") && Catch::Contains(d.digest.hex()));
    CHECK_THROWS_WITH(s.verify_blob(d.digest), Catch::Contains("corrupt"));
}

TEST_CASE("BlobWriter verifies the expected digest and leaves nothing on mismatch") {
    TempDir dir;
    Store s(dir.path());
    {
        BlobWriter w = s.begin_blob();
        w.write("abc");
        CHECK_THROWS_WITH(w.commit(Digest::of("abd")), Catch::Contains("mismatch"));
    }
    CHECK_FALSE(s.has_blob(Digest::of("abc")));
    size_t files = 0;
    for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.path() / "blobs" / "sha256")) {
        ++files;
    }
    CHECK(files == 0);
}

TEST_CASE("gc removes exactly the unreferenced blobs") {
    TempDir dir;
    Store s(dir.path());
    add_image(s, "keep", "demo/keep:1");
    add_image(s, "drop", "demo/drop:1");
    Descriptor orphan = s.put_blob("orphan", "application/octet-stream");
    s.untag("demo/drop:1");
    GcResult r = s.gc();
    CHECK(r.removed_blobs == 4);  // orphan + drop's layer, config, manifest
    CHECK(r.kept_blobs == 3);
    CHECK_FALSE(s.has_blob(orphan.digest));
    CHECK_FALSE(s.has_blob(Digest::of("drop")));
    CHECK(s.has_blob(Digest::of("keep")));
    CHECK(s.read_manifest(*s.resolve("demo/keep:1")).layers.size() == 1);
}

TEST_CASE("a directory that is not a layout is refused") {
    TempDir dir;
    std::ofstream(dir.path() / "unrelated") << "x";
    CHECK_THROWS_AS(Store(dir.path()), Error);
}

TEST_CASE("manifest and config JSON round trip") {
    ImageConfig c;
    c.env = {"A=1"};
    c.labels = {{"k", "v"}};
    c.diff_ids = {Digest::of("x")};
    c.raw = {{"custom", 1}};
    std::string bytes = c.to_bytes();
    ImageConfig back = ImageConfig::parse(bytes, "test");
    CHECK(back.env == c.env);
    CHECK(back.labels == c.labels);
    CHECK(back.diff_ids == c.diff_ids);
    CHECK(back.to_bytes() == bytes);
    CHECK_THROWS_AS(Manifest::parse("{\"layers\": 3}", "test"), Error);
    CHECK_THROWS_AS(Manifest::parse("<html>", "test"), Error);
}
