#include <catch2/catch.hpp>

#include <algorithm>

#include "builder/base_bootstrap.h"
#include "builder/base_layers.h"

using namespace envpack;

namespace {

LayerEntry dir(std::string p) {
    LayerEntry e;
    e.path = std::move(p);
    e.type = EntryType::directory;
    e.mode = 0755;
    return e;
}
LayerEntry file(std::string p) {
    LayerEntry e;
    e.path = std::move(p);
    e.source = "/src/" + e.path;
    return e;
}
LayerEntry lnk(std::string p, std::string target, EntryType t = EntryType::symlink) {
    LayerEntry e;
    e.path = std::move(p);
    e.type = t;
    e.link_target = std::move(target);
    return e;
}

std::vector<std::string> paths(const DebianLayer& l) {
    std::vector<std::string> out;
    for (const auto& e : l.entries) {
        out.push_back(e.path + (e.type == EntryType::directory ? "/" : ""));
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("dpkg .list files become relative paths") {
    CHECK(parse_dpkg_list("/.\n/usr\n/usr/bin/\n/usr/bin/x\n") ==
          std::vector<std::string>{"", "usr", "usr/bin", "usr/bin/x"});
}

TEST_CASE("layers split by dpkg ownership with a stable rule") {
    std::vector<LayerGroupRule> rules = {{"mpi", {"*openmpi*"}}, {"python", {"python3*"}}};
    CHECK(group_of_package(rules, "libopenmpi3") == "mpi");
    CHECK(group_of_package(rules, "coreutils") == "system");
    DpkgOwnership own = {
        {"coreutils", {"", "bin", "bin/ls", "usr", "usr/share"}},
        {"libopenmpi3", {"", "usr", "usr/lib", "usr/lib/libmpi.so.40", "usr/lib/openmpi"}},
        {"python3-numpy",
         {"", "usr", "usr/lib", "usr/lib/python3", "usr/lib/python3/numpy",
          "usr/lib/python3/numpy/core.py"}},
        {"python3", {"", "usr", "usr/lib", "usr/lib/python3"}},
    };
    std::vector<LayerEntry> entries = {
        lnk("bin", "usr/bin"),  // merged /usr: coreutils lists /bin/ls, the file is usr/bin/ls
        dir("usr"),
        dir("usr/bin"),
        file("usr/bin/ls"),
        dir("usr/lib"),
        file("usr/lib/libmpi.so.40"),
        dir("usr/lib/openmpi"),
        dir("usr/lib/x11"),  // x11: empty, unowned
        dir("usr/lib/python3"),
        dir("usr/lib/python3/numpy"),
        file("usr/lib/python3/numpy/core.py"),
        dir("usr/lib/python3/numpy/__pycache__"),
        file("usr/lib/python3/numpy/__pycache__/core.pyc"),  // unowned: nearest owned ancestor
        dir("etc"),
        file("etc/passwd"),  // unowned, no single owner
        dir("var"),
        dir("var/lib"),
        dir("var/lib/dpkg"),
        dir("var/lib/dpkg/info"),
        file("var/lib/dpkg/info/libopenmpi3:amd64.list"),
        file("var/lib/dpkg/info/coreutils.md5sums"),
        file("var/lib/dpkg/status"),
        lnk("usr/lib/openmpi/libmpi-copy.so", "usr/lib/libmpi.so.40", EntryType::hardlink),
        lnk("usr/lib/python3/numpy/same.py", "usr/bin/ls", EntryType::hardlink),
    };
    auto layers = plan_debian_layers(rules, own, entries);
    REQUIRE(layers.size() == 4);
    CHECK(layers[0].name == "system");
    CHECK(layers[1].name == "mpi");
    CHECK(layers[2].name == "python");
    CHECK(layers[3].name == "rest");
    CHECK(paths(layers[0]) == std::vector<std::string>{"usr/", "usr/bin/", "usr/bin/ls", "var/",
                                                       "var/lib/", "var/lib/dpkg/",
                                                       "var/lib/dpkg/info/",
                                                       "var/lib/dpkg/info/coreutils.md5sums"});
    CHECK(paths(layers[1]) ==
          std::vector<std::string>{"usr/", "usr/lib/", "usr/lib/libmpi.so.40", "usr/lib/openmpi/",
                                   "usr/lib/openmpi/libmpi-copy.so", "var/", "var/lib/",
                                   "var/lib/dpkg/", "var/lib/dpkg/info/",
                                   "var/lib/dpkg/info/libopenmpi3:amd64.list"});
    CHECK(paths(layers[2]) ==
          std::vector<std::string>{
              "usr/", "usr/lib/", "usr/lib/python3/", "usr/lib/python3/numpy/",
              "usr/lib/python3/numpy/__pycache__/", "usr/lib/python3/numpy/__pycache__/core.pyc",
              "usr/lib/python3/numpy/core.py", "usr/lib/python3/numpy/same.py"});
    CHECK(paths(layers[3]) ==
          std::vector<std::string>{"bin", "etc/", "etc/passwd", "usr/", "usr/lib/", "usr/lib/x11/",
                                   "var/", "var/lib/", "var/lib/dpkg/", "var/lib/dpkg/status"});
    // A hard link within its layer stays a link; one whose first path is elsewhere is a copy.
    for (const auto& e : layers[1].entries) {
        if (e.path == "usr/lib/openmpi/libmpi-copy.so") {
            CHECK(e.type == EntryType::hardlink);
        }
    }
    for (const auto& e : layers[2].entries) {
        if (e.path == "usr/lib/python3/numpy/same.py") {
            CHECK(e.type == EntryType::file);
            CHECK(e.source == "/src/usr/bin/ls");
        }
    }
    // Another package in another group changes nothing in the python layer.
    own["libfoo"] = {"", "opt", "opt/foo"};
    entries.push_back(dir("opt"));
    entries.push_back(file("opt/foo"));
    auto again = plan_debian_layers(rules, own, entries);
    CHECK(paths(again[2]) == paths(layers[2]));
}

TEST_CASE("mmdebstrap command lines") {
    BootstrapRequest r;
    r.debian.packages = {"openmpi-bin"};
    r.extra = {"zlib1g", "openmpi-bin"};
    r.target = "/t/root";
    r.debs_out = "/h/debs";
    auto argv = mmdebstrap_argv(r);
    CHECK(argv[0] == "mmdebstrap");
    CHECK(std::find(argv.begin(), argv.end(), "--variant=minbase") != argv.end());
    CHECK(std::find(argv.begin(), argv.end(), "--include=openmpi-bin,zlib1g") != argv.end());
    CHECK(std::find(argv.begin(), argv.end(), "--skip=essential/unlink") != argv.end());
    CHECK(argv[argv.size() - 3] == "bookworm");
    CHECK(argv[argv.size() - 2] == "/t/root");
    CHECK(argv.back() == "http://deb.debian.org/debian");
    r.pinned = {"openmpi-bin=4.1.4-3", "zlib1g=1:1.2.13.dfsg-1"};
    r.local_repo = "/t/repo";
    argv = mmdebstrap_argv(r);
    CHECK(std::find(argv.begin(), argv.end(),
                    "--include=openmpi-bin=4.1.4-3,zlib1g=1:1.2.13.dfsg-1") != argv.end());
    CHECK(argv.back() == "deb [trusted=yes] file:///t/repo bookworm main");
}
