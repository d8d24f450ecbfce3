// Layers that keep owners (Owners::keep): uid/gid, names and xattrs reach the tar; Owners::root
// writes none of them.
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "builder/layer.h"
#include "core/archive.h"

using namespace envpack;
namespace fs = std::filesystem;

namespace {

std::map<std::string, ArchiveEntry> read_entries(const std::string& bytes) {
    std::map<std::string, ArchiveEntry> out;
    ArchiveReader reader(bytes.data(), bytes.size(), "layer");
    while (auto e = reader.next()) {
        StringSink s;
        reader.read_data(s);
        out[e->path] = *e;
    }
    return out;
}

std::string layer(std::vector<LayerEntry> entries, Owners owners) {
    LayerOptions o;
    o.compression = Compression::none;
    o.owners = owners;
    StringSink out;
    write_layer(std::move(entries), o, out);
    return out.data();
}

const std::string k_cap(
    "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);

LayerEntry owned_file() {
    LayerEntry e;
    e.path = "etc/shadow";
    e.data = "root:*:1::::::\n";
    e.mode = 02640;
    e.uid = 0;
    e.gid = 42;
    e.uname = "root";
    e.gname = "shadow";
    e.xattrs = {{"security.capability", k_cap}, {"user.note", "hello"}};
    return e;
}

}  // namespace

TEST_CASE("Owners::keep writes uid/gid, names and SCHILY.xattr records") {
    LayerEntry big = owned_file();
    big.path = "home/u/f";
    big.uid = 100000000;  // past ustar's 7 octal digits: a PAX record
    big.gid = 3000;
    big.uname = std::string(40, 'u');  // past ustar's 32 bytes: a PAX record
    big.gname = "";
    big.xattrs = {};
    auto entries = read_entries(layer({owned_file(), big}, Owners::keep));
    const auto& e = entries.at("etc/shadow");
    CHECK(e.uid == 0);
    CHECK(e.gid == 42);
    CHECK(e.uname == "root");
    CHECK(e.gname == "shadow");
    CHECK(e.mode == 02640);
    std::map<std::string, std::string> x(e.xattrs.begin(), e.xattrs.end());
    CHECK(x.size() == 2);
    CHECK(x["security.capability"] == k_cap);
    CHECK(x["user.note"] == "hello");
    const auto& b = entries.at("home/u/f");
    CHECK(b.uid == 100000000);
    CHECK(b.gid == 3000);
    CHECK(b.uname == std::string(40, 'u'));
    CHECK(b.gname.empty());
}

TEST_CASE("Owners::root writes 0:0 and no names or xattrs, byte for byte as before") {
    LayerEntry plain = owned_file();
    plain.uid = plain.gid = 0;
    plain.uname.clear();
    plain.gname.clear();
    plain.xattrs.clear();
    std::string with_owners = layer({owned_file()}, Owners::root);
    CHECK(with_owners == layer({plain}, Owners::root));
    CHECK(with_owners == layer({plain}, Owners::keep));
    auto e = read_entries(with_owners).at("etc/shadow");
    CHECK(e.gid == 0);
    CHECK(e.xattrs.empty());
}

TEST_CASE("Owners::keep is reproducible whatever order xattrs were given in") {
    LayerEntry a = owned_file();
    LayerEntry b = owned_file();
    b.xattrs.clear();
    b.xattrs.emplace("user.note", "hello");
    b.xattrs.emplace("security.capability", k_cap);
    CHECK(layer({a}, Owners::keep) == layer({b}, Owners::keep));
}

TEST_CASE("parse_id_names reads passwd and group lines") {
    auto names = parse_id_names(
        "root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\nshadow:x:42:\n"
        "again:x:42:\nnum:x:4x:\n:x:7:\nlast:x:65534:65534::/:/bin/false");
    CHECK(names.size() == 3);
    CHECK(names[0] == "root");
    CHECK(names[42] == "shadow");  // the first name of an id wins
    CHECK(names[65534] == "last");
}

TEST_CASE("scan_tree with Owners::keep reads owners, names from the tree and xattrs") {
    if (::geteuid() != 0) {
        WARN("skipped: needs root to chown");
        return;
    }
    fs::path root = fs::temp_directory_path() / ("envpack-owners-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "etc");
    std::ofstream(root / "etc/passwd")
        << "root:x:0:0::/root:/bin/sh\nalice:x:1234:1234::/:/bin/sh\n";
    std::ofstream(root / "etc/group") << "root:x:0:\nstaff:x:50:\n";
    std::ofstream(root / "f") << "x";
    REQUIRE(::chown((root / "f").c_str(), 1234, 50) == 0);
    REQUIRE(::chown((root / "etc").c_str(), 7, 8) == 0);
    bool xattrs = ::setxattr((root / "f").c_str(), "user.k", "v", 1, 0) == 0;
    ::setxattr((root / "f").c_str(), "trusted.k", "v", 1, 0);  // not kept even if set
    ScanOptions so;
    so.owners = Owners::keep;
    std::map<std::string, LayerEntry> by;
    for (auto& e : scan_tree(root, Log::null(), so)) {
        by[e.path] = e;
    }
    CHECK(by["f"].uid == 1234);
    CHECK(by["f"].gid == 50);
    CHECK(by["f"].uname == "alice");
    CHECK(by["f"].gname == "staff");
    CHECK(by["etc"].uid == 7);
    CHECK(by["etc"].uname.empty());
    if (xattrs) {
        CHECK(by["f"].xattrs == Xattrs{{"user.k", "v"}});
    }
    CHECK(scan_tree(root, Log::null()).front().uid == 0);  // Owners::root reads none of it
    fs::remove_all(root);
}
