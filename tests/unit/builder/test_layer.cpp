#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "builder/layer.h"
#include "core/archive.h"
#include "core/error.h"

using namespace envpack;
namespace fs = std::filesystem;

namespace {

LayerEntry file(std::string path, std::string data, std::uint32_t mode = 0644,
                std::int64_t mtime = 1000) {
    LayerEntry e;
    e.path = std::move(path);
    e.data = std::move(data);
    e.mode = mode;
    e.mtime = mtime;
    return e;
}

struct Read {
    std::vector<ArchiveEntry> entries;
    std::map<std::string, std::string> data;
};

Read read_tar(const std::string& bytes) {
    Read r;
    ArchiveReader reader(bytes.data(), bytes.size(), "layer");
    while (auto e = reader.next()) {
        StringSink s;
        reader.read_data(s);
        r.data[e->path] = s.data();
        r.entries.push_back(*e);
    }
    return r;
}

std::string layer_bytes(std::vector<LayerEntry> entries, LayerOptions o,
                        LayerResult* result = nullptr) {
    StringSink out;
    LayerResult r = write_layer(std::move(entries), o, out);
    if (result != nullptr) {
        *result = r;
    }
    return out.data();
}

}  // namespace

TEST_CASE("layers are sorted, parents first, owned by root, mtimes zeroed") {
    LayerOptions o;
    o.compression = Compression::none;
    auto bytes = layer_bytes(
        {file("b/z.txt", "z"), file("a-b", "1"), file("a/x", "x", 0755), file("./c//d", "d")}, o);
    Read r = read_tar(bytes);
    std::vector<std::string> paths;
    for (const auto& e : r.entries) {
        paths.push_back(e.path);
        CHECK(e.mtime == 0);
    }
    CHECK(paths == std::vector<std::string>{"a/", "a-b", "a/x", "b/", "b/z.txt", "c/", "c/d"});
    CHECK(r.entries[2].mode == 0755);
    CHECK(r.data["c/d"] == "d");
}

TEST_CASE("the same entries give the same digests whatever their order and the thread count") {
    std::vector<LayerEntry> a = {file("x/1", std::string(3 << 20, 'a')), file("y", "y"),
                                 file("x/2", "2")};
    std::vector<LayerEntry> b = {a[2], a[1], a[0]};
    LayerOptions o1;
    o1.threads = 1;
    LayerOptions o4;
    o4.threads = 4;
    LayerResult r1, r4;
    CHECK(layer_bytes(a, o1, &r1) == layer_bytes(b, o4, &r4));
    CHECK(r1.digest == r4.digest);
    CHECK(r1.diff_id == r4.diff_id);
    CHECK(r1.media_type == "application/vnd.oci.image.layer.v1.tar+gzip");
    LayerOptions z;
    z.compression = Compression::zstd;
    LayerResult rz;
    layer_bytes(a, z, &rz);
    CHECK(rz.diff_id == r1.diff_id);  // same tar, different compression
    CHECK(rz.digest != r1.digest);
}

TEST_CASE("SOURCE_DATE_EPOCH clamps mtimes") {
    LayerOptions o;
    o.compression = Compression::none;
    o.source_date_epoch = 500;
    Read r = read_tar(layer_bytes({file("old", "", 0644, 100), file("new", "", 0644, 9999)}, o));
    CHECK(r.entries[0].path == "new");
    CHECK(r.entries[0].mtime == 500);
    CHECK(r.entries[1].mtime == 100);
}

TEST_CASE("long names and link targets use PAX records") {
    std::string longdir(150, 'd');
    std::string target(180, 't');
    LayerEntry link;
    link.path = "l";
    link.type = EntryType::symlink;
    link.link_target = target;
    LayerOptions o;
    o.compression = Compression::none;
    Read r = read_tar(layer_bytes({file(longdir + "/" + std::string(120, 'f'), "long"), link}, o));
    REQUIRE(r.entries.size() == 3);
    CHECK(r.entries[1].path == longdir + "/" + std::string(120, 'f'));
    CHECK(r.data[r.entries[1].path] == "long");
    CHECK(r.entries[2].link_target == target);
}

TEST_CASE("hard links point at the first path in sorted order") {
    LayerEntry content = file("z/orig", "shared");
    LayerEntry link;
    link.path = "a/link";
    link.type = EntryType::hardlink;
    link.link_target = "z/orig";
    LayerOptions o;
    o.compression = Compression::none;
    Read r = read_tar(layer_bytes({content, link}, o));
    REQUIRE(r.entries.size() == 4);
    CHECK(r.entries[1].path == "a/link");
    CHECK(r.entries[1].type == ArchiveEntry::Type::file);
    CHECK(r.data["a/link"] == "shared");
    CHECK(r.entries[3].path == "z/orig");
    CHECK(r.entries[3].type == ArchiveEntry::Type::hardlink);
    CHECK(r.entries[3].link_target == "a/link");
}

TEST_CASE("bad entries are refused") {
    LayerOptions o;
    CHECK_THROWS_AS(layer_bytes({file("../etc/passwd", "x")}, o), Error);
    CHECK_THROWS_AS(layer_bytes({file("f", "x"), file("f/g", "y")}, o), Error);
    LayerEntry dangling;
    dangling.path = "l";
    dangling.type = EntryType::hardlink;
    dangling.link_target = "missing";
    CHECK_THROWS_AS(layer_bytes({dangling}, o), Error);
}

TEST_CASE("scan_tree keeps modes, symlinks and hard links, and skips sockets") {
    TempDir dir;
    fs::path root = dir.path();
    fs::create_directories(root / "sub");
    std::ofstream(root / "sub" / "f") << "data";
    ::chmod((root / "sub" / "f").c_str(), 0750);
    fs::create_hard_link(root / "sub" / "f", root / "a-hard");
    fs::create_symlink("sub/f", root / "ln");
    ::mkfifo((root / "fifo").c_str(), 0644);
    auto entries = scan_tree(root, Log::null());
    LayerOptions o;
    o.compression = Compression::none;
    Read r = read_tar(layer_bytes(entries, o));
    std::map<std::string, ArchiveEntry> by;
    for (auto& e : r.entries) {
        by[e.path] = e;
    }
    CHECK_FALSE(by.contains("fifo"));
    CHECK(by["a-hard"].type == ArchiveEntry::Type::file);
    CHECK(by["sub/f"].type == ArchiveEntry::Type::hardlink);
    CHECK(by["sub/f"].link_target == "a-hard");
    CHECK(by["a-hard"].mode == 0750);
    CHECK(by["ln"].type == ArchiveEntry::Type::symlink);
    CHECK(by["ln"].link_target == "sub/f");
}

TEST_CASE("a file that changes size while being read is detected") {
    TempDir dir;
    fs::path p = dir.path() / "f";
    std::ofstream(p) << "12345";
    LayerEntry e;
    e.path = "f";
    e.source = p;
    e.size = 3;  // the scan saw 3 bytes; the file now has 5
    LayerOptions o;
    StringSink out;
    CHECK_THROWS_WITH(write_layer({e}, o, out), Catch::Contains("changed while it was being read"));
}
