#include <catch2/catch.hpp>

#include <cstdlib>

#include <fmt/format.h>

#include "builder/conda_install.h"
#include "builder/conda_package.h"
#include "core/compress.h"
#include "core/error.h"
#include "core/fs.h"

using namespace envpack;
namespace fs = std::filesystem;

namespace {

const fs::path k_packages = fs::path(ENVPACK_SHARED_DIR) / "data" / "conda" / "packages";

std::string layer_diff_id(std::vector<LayerEntry> entries) {
    LayerOptions o;
    o.compression = Compression::none;
    StringSink sink;
    return write_layer(std::move(entries), o, sink).diff_id.to_string();
}

}  // namespace

TEST_CASE("binary prefix replacement pads with NULs and keeps the length") {
    std::string ph = "/opt/anaconda1anaconda2anaconda3";
    std::string data = std::string("\x01\x02", 2) + ph + "/lib:" + ph + "/x" +
                       std::string(1, '\0') + "after" + std::string(1, '\0');
    std::string before = data;
    REQUIRE(replace_binary_prefix(data, ph, "/opt/env") == 2);
    REQUIRE(data.size() == before.size());
    std::string want = std::string("\x01\x02", 2) + "/opt/env/lib:/opt/env/x";
    REQUIRE(data.substr(0, want.size()) == want);
    REQUIRE(data.find("after") == before.find("after"));
    for (size_t i = want.size(); i < data.find("after"); ++i) {
        REQUIRE(data[i] == '\0');
    }
    SECTION("a longer prefix is refused") {
        std::string d2 = ph + std::string(1, '\0');
        REQUIRE_THROWS_AS(replace_binary_prefix(d2, ph, "/" + std::string(40, 'x')), Error);
    }
}

TEST_CASE("text prefix replacement replaces every occurrence") {
    std::string s = "a=/ph b=/ph/c /phx";
    REQUIRE(replace_text_prefix(s, "/ph", "/opt/longer") == 3);
    REQUIRE(s == "a=/opt/longer b=/opt/longer/c /opt/longerx");
    std::string none = "nothing";
    REQUIRE(replace_text_prefix(none, "/ph", "/x") == 0);
}

TEST_CASE("entry point script") {
    std::string s = entry_point_script("/opt/conda/bin/python", "pkg.cli", "main");
    REQUIRE(s.starts_with("#!/opt/conda/bin/python\n"));
    REQUIRE(s.find("from pkg.cli import main\n") != std::string::npos);
    REQUIRE(s.find("sys.exit(main())") != std::string::npos);
}

TEST_CASE("real zlib installs identically from .conda and .tar.bz2") {
    TempDir tmp;
    const fs::path repo = k_packages / "conda-format-repo" / "linux-64";
    extract_conda_package(repo / "zlib-1.2.11-h7b6447c_3.conda", tmp.path() / "c");
    extract_conda_package(repo / "zlib-1.2.11-h7b6447c_3.tar.bz2", tmp.path() / "t");
    InstallOptions opt{"/opt/env", ""};
    auto a = plan_package_install(tmp.path() / "c", {"u/zlib.conda", "u", "", ""}, opt);
    auto b = plan_package_install(tmp.path() / "t", {"u/zlib.conda", "u", "", ""}, opt);
    REQUIRE(a.name == "zlib");
    REQUIRE(a.version == "1.2.11");
    REQUIRE(a.files == b.files);
    REQUIRE(a.files.size() > 5);
    REQUIRE(a.meta_json == b.meta_json);
    REQUIRE(a.meta_file == "conda-meta/zlib-1.2.11-h7b6447c_3.json");
    REQUIRE(layer_diff_id(a.entries) == layer_diff_id(b.entries));
    bool has_lib = false;
    int links = 0;
    for (const auto& e : a.entries) {
        REQUIRE(e.path.starts_with("opt/env/"));
        has_lib = has_lib || e.path == "opt/env/lib/libz.so.1.2.11";
        if (e.path == "opt/env/lib/libz.so" || e.path == "opt/env/lib/libz.so.1") {
            // Empty files (.tar.bz2) / target-less links (.conda) repaired from paths.json.
            REQUIRE(e.type == EntryType::symlink);
            REQUIRE(e.link_target == "libz.so.1.2.11");
            ++links;
        }
        if (e.path == "opt/env/lib/pkgconfig/zlib.pc") {
            REQUIRE(e.data.find("prefix=/opt/env") != std::string::npos);
        }
    }
    REQUIRE(has_lib);
    REQUIRE(links == 2);
}

TEST_CASE("the malformed ca-certificates .conda is refused with a clear error") {
    TempDir tmp;
    auto pkg =
        k_packages / "conda-forge" / "linux-64" / "ca-certificates-2024.7.4-hbcca054_0.conda";
    try {
        extract_conda_package(pkg, tmp.path() / "x");
        FAIL("extraction should have been refused");
    } catch (const Error& e) {
        std::string msg = e.what();
        INFO(msg);
        REQUIRE(e.code() == ExitCode::bad_input);
        REQUIRE(msg.find("ca-certificates-2024.7.4-hbcca054_0.conda") != std::string::npos);
        REQUIRE(msg.find("top level") != std::string::npos);
    }
    REQUIRE_FALSE(fs::exists(tmp.path() / "x"));
}

TEST_CASE("a real noarch: generic package and an old-style package install") {
    TempDir tmp;
    extract_conda_package(k_packages / "anaconda" / "noarch" / "_r-mutex-1.0.1-anacondar_1.tar.bz2",
                          tmp.path() / "r");
    auto p = plan_package_install(tmp.path() / "r", {"x/noarch/_r-mutex.tar.bz2", "x", "", ""}, {});
    REQUIRE(p.name == "_r-mutex");
    REQUIRE(p.meta_json.find("\"noarch\"") != std::string::npos);
}

TEST_CASE("clobbers: the later package wins and is reported") {
    InstalledPackage a, b;
    a.name = "a";
    a.version = "1";
    a.build = "0";
    b.name = "b";
    b.version = "1";
    b.build = "0";
    LayerEntry e;
    e.path = "opt/conda/bin/x";
    e.data = "a";
    a.entries.push_back(e);
    e.data = "b";
    b.entries.push_back(e);
    LayerEntry d;
    d.path = "opt/conda/bin";
    d.type = EntryType::directory;
    a.entries.push_back(d);
    b.entries.push_back(d);
    std::vector<InstalledPackage> pkgs{a, b};
    auto reports = resolve_clobbers(pkgs);
    REQUIRE(reports.size() == 1);
    REQUIRE(reports[0] == "`opt/conda/bin/x`: b-1-0 clobbers a-1-0");
    REQUIRE(pkgs[0].entries.size() == 1);  // the directory stays
    REQUIRE(pkgs[1].entries.size() == 2);
}
