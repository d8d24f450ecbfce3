#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <map>

#include <fmt/format.h>

#include "builder/layer.h"
#include "builder/wheel_files.h"
#include "builder/wheel_install.h"
#include "core/compress.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "zip_writer.h"

using namespace envpack;
using envpack::testing::ZipEntry;
namespace fs = std::filesystem;

namespace {

// A wheel `demo-1.0` with the given extra members; RECORD lists every member unless `record`
// says otherwise (a callback may alter the rows).
std::string demo_wheel(std::vector<ZipEntry> extra,
                       std::function<void(std::vector<wheel_files::RecordRow>&)> edit = {},
                       std::string wheel_version = "1.0") {
    std::vector<ZipEntry> members = {
        {"demo/__init__.py", "X = 1\n"},
        {"demo/cli.py", "def main():\n    return 0\n"},
        {"demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"},
        {"demo-1.0.dist-info/WHEEL",
         "Wheel-Version: " + wheel_version + "\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
        {"demo-1.0.dist-info/entry_points.txt", "[console_scripts]\ndemo = demo.cli:main\n"},
    };
    members.insert(members.end(), extra.begin(), extra.end());
    std::vector<wheel_files::RecordRow> rows;
    for (const auto& m : members) {
        rows.push_back(
            {m.name, wheel_files::record_hash(Digest::of(m.data)), std::to_string(m.data.size())});
    }
    if (edit) {
        edit(rows);
    }
    std::string record;
    for (const auto& r : rows) {
        record += r.path + "," + r.hash + "," + r.size + "\n";
    }
    record += "demo-1.0.dist-info/RECORD,,\n";
    members.push_back({"demo-1.0.dist-info/RECORD", record});
    return envpack::testing::make_zip(members);
}

struct Setup {
    TempDir dir{"wheel-install-"};
    fs::path prefix = dir.path() / "env";
    fs::path wheel = dir.path() / "demo-1.0-py3-none-any.whl";
    wheel_install::Options options;
    Setup() {
        options.prefix = prefix;
        options.interpreter = "/opt/conda/bin/python";
        options.requested = wheel_install::Requested::yes;
    }
    void write(const std::string& bytes) { write_file_atomic(wheel, bytes, Durability::none); }
    // Files and directories under the prefix's parent other than the wheel and the prefix.
    bool prefix_untouched() const {
        std::error_code ec;
        if (fs::exists(prefix) && !fs::is_empty(prefix)) {
            return false;
        }
        for (const auto& e : fs::directory_iterator(dir.path())) {
            if (e.path() != wheel && e.path() != prefix) {
                return false;
            }
        }
        return true;
    }
};

std::uint32_t mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("wheel_install: files, .data, scripts, modes and RECORD as pip lays them out") {
    Setup s;
    s.write(demo_wheel({{"demo/tool.so",
                         "\x7f"
                         "ELF",
                         0100755},
                        {"demo-1.0.data/scripts/run-demo", "#!python\nimport demo\n", 0100755},
                        {"demo-1.0.data/scripts/demo", "shadowed by the entry point\n", 0100755},
                        {"demo-1.0.data/headers/demo.h", "#define DEMO 1\n"},
                        {"demo-1.0.data/data/share/demo/x.txt", "x\n"},
                        {"demo-1.0.data/platlib/demo_plat.py", "P = 1\n"}}));
    auto installed = wheel_install::install_wheel(s.wheel, s.options);
    CHECK(installed.name == "demo");
    CHECK(installed.version == "1.0");
    const fs::path sp = s.prefix / "lib/python3.11/site-packages";
    CHECK(read_file(sp / "demo/__init__.py") == "X = 1\n");
    CHECK(read_file(sp / "demo_plat.py") == "P = 1\n");
    CHECK(read_file(s.prefix / "include/python3.11/demo/demo.h") == "#define DEMO 1\n");
    CHECK(read_file(s.prefix / "share/demo/x.txt") == "x\n");
    CHECK(read_file(s.prefix / "bin/run-demo") == "#!/opt/conda/bin/python\nimport demo\n");
    CHECK_THAT(read_file(s.prefix / "bin/demo"), Catch::StartsWith("#!/opt/conda/bin/python\n") &&
                                                     Catch::Contains("from demo.cli import main"));
    CHECK(mode_of(s.prefix / "bin/demo") == 0755);
    CHECK(mode_of(s.prefix / "bin/run-demo") == 0755);
    CHECK(mode_of(sp / "demo/tool.so") == 0755);
    CHECK(mode_of(sp / "demo/__init__.py") == 0644);
    CHECK(read_file(sp / "demo-1.0.dist-info/INSTALLER") == "envpack\n");
    CHECK(fs::exists(sp / "demo-1.0.dist-info/REQUESTED"));

    auto rows = wheel_files::parse_record(read_file(sp / "demo-1.0.dist-info/RECORD"), "RECORD");
    std::map<std::string, wheel_files::RecordRow> by;
    for (const auto& r : rows) {
        by[r.path] = r;
    }
    CHECK(by.at("demo/__init__.py").hash == wheel_files::record_hash(Digest::of("X = 1\n")));
    CHECK(by.at("../../../bin/run-demo").hash ==
          wheel_files::record_hash(Digest::of("#!/opt/conda/bin/python\nimport demo\n")));
    CHECK(by.at("../../../bin/demo").size ==
          std::to_string(read_file(s.prefix / "bin/demo").size()));
    CHECK(by.at("../../../include/python3.11/demo/demo.h").size == "15");
    CHECK(by.at("demo-1.0.dist-info/INSTALLER").size == "8");
    CHECK(by.at("demo-1.0.dist-info/RECORD").hash.empty());
    CHECK(by.contains("demo-1.0.dist-info/REQUESTED"));
    CHECK(std::is_sorted(rows.begin(), rows.end()));
    // Every file on disk is in RECORD and in the result.
    std::size_t on_disk = 0;
    for (const auto& e : fs::recursive_directory_iterator(s.prefix)) {
        if (e.is_regular_file()) {
            ++on_disk;
            auto rel = fs::relative(e.path(), sp).generic_string();
            CHECK(by.contains(rel));
            CHECK(std::binary_search(installed.files.begin(), installed.files.end(),
                                     fs::relative(e.path(), s.prefix).generic_string()));
        }
    }
    CHECK(on_disk == installed.files.size());
    // pip keeps the row of a .data script it skipped for an entry point, path unmapped.
    CHECK(by.contains("demo-1.0.data/scripts/demo"));
    CHECK(on_disk + 1 == rows.size());
    CHECK(s.prefix_untouched() == false);
}

TEST_CASE("wheel_install: bad wheels are refused before anything lands") {
    struct Case {
        const char* what;
        std::string wheel;
        const char* message;
    };
    auto drop_init = [](std::vector<wheel_files::RecordRow>& rows) {
        std::erase_if(rows, [](const auto& r) { return r.path == "demo/__init__.py"; });
    };
    auto wrong_hash = [](std::vector<wheel_files::RecordRow>& rows) {
        for (auto& r : rows) {
            if (r.path == "demo/cli.py") {
                r.hash = wheel_files::record_hash(Digest::of("something else"));
            }
        }
    };
    auto no_hash = [](std::vector<wheel_files::RecordRow>& rows) {
        for (auto& r : rows) {
            if (r.path == "demo/cli.py") {
                r.hash.clear();
            }
        }
    };
    std::vector<Case> cases = {
        {"escape", demo_wheel({{"../../evil.txt", "evil"}}), "outside site-packages"},
        {"absolute", demo_wheel({{"/tmp/evil.txt", "evil"}}), "outside site-packages"},
        {"data escape", demo_wheel({{"demo-1.0.data/scripts/../../../../evil", "e"}}),
         "outside `scripts`"},
        {"unknown key", demo_wheel({{"demo-1.0.data/elsewhere/x", "e"}}), "unknown scheme key"},
        {"unlisted", demo_wheel({}, drop_init), "not listed in RECORD"},
        {"no hash", demo_wheel({}, no_hash), "no sha256 hash"},
        {"hash", demo_wheel({}, wrong_hash), "does not match its RECORD hash"},
        {"wheel version", demo_wheel({}, {}, "2.0"), "Wheel-Version"},
        {"bad entry point", demo_wheel({}, [](auto&) {}) /* replaced below */, "callable suffix"},
    };
    // A wheel whose entry point has no callable.
    {
        std::vector<ZipEntry> members = {
            {"demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"},
            {"demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"},
            {"demo-1.0.dist-info/entry_points.txt", "[console_scripts]\nx = nocallable\n"},
            {"demo-1.0.dist-info/RECORD", "demo-1.0.dist-info/RECORD,,\n"}};
        cases.back().wheel = envpack::testing::make_zip(members);
    }
    for (const auto& c : cases) {
        INFO(c.what);
        Setup s;
        s.write(c.wheel);
        try {
            wheel_install::install_wheel(s.wheel, s.options);
            FAIL("installed a bad wheel");
        } catch (const Error& e) {
            CHECK_THAT(e.what(), Catch::Contains(c.message));
            CHECK_THAT(e.what(), Catch::Contains("demo-1.0-py3-none-any.whl"));
        }
        CHECK(s.prefix_untouched());
    }
}

TEST_CASE("wheel_install: missing METADATA, WHEEL or RECORD") {
    for (const char* missing : {"METADATA", "WHEEL", "RECORD"}) {
        INFO(missing);
        std::vector<ZipEntry> members = {
            {"demo/__init__.py", ""},
            {"demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"},
            {"demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"},
            {"demo-1.0.dist-info/RECORD",
             "demo/__init__.py," + wheel_files::record_hash(Digest::of("")) + ",0\n"}};
        std::erase_if(members, [&](const auto& m) {
            return m.name == std::string("demo-1.0.dist-info/") + missing;
        });
        Setup s;
        s.write(envpack::testing::make_zip(members));
        CHECK_THROWS_WITH(
            wheel_install::install_wheel(s.wheel, s.options),
            Catch::Contains(std::string("dist-info/") + missing) && Catch::Contains("missing"));
        CHECK(s.prefix_untouched());
    }
}

TEST_CASE("wheel_install: a wheel whose .dist-info names another project is refused") {
    Setup s;
    s.write(demo_wheel({}));
    CHECK_THROWS_WITH(wheel_install::install_wheel(s.wheel, s.options, "other"),
                      Catch::Contains("not for project `other`"));
    CHECK(s.prefix_untouched());
}

TEST_CASE("wheel_install: reinstalling replaces files in place") {
    Setup s;
    s.write(demo_wheel({}));
    wheel_install::install_wheel(s.wheel, s.options);
    auto second = wheel_install::install_wheel(s.wheel, s.options);
    CHECK(read_file(s.prefix / "lib/python3.11/site-packages/demo/__init__.py") == "X = 1\n");
    CHECK_FALSE(second.files.empty());
    // No staging directory beside the prefix, no temporary (`.NAME.envpack-PID-N`) in it.
    for (const auto& e : fs::recursive_directory_iterator(s.dir.path())) {
        CHECK(e.path().filename().string().find(".envpack-") == std::string::npos);
    }
}

namespace {

// Every path under `root` (directories too) with its type, mode, inode and content.
std::map<std::string, std::string> tree_state(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        struct stat st {};
        REQUIRE(::lstat(e.path().c_str(), &st) == 0);
        std::string state = fmt::format("mode {:o} inode {}", st.st_mode, st.st_ino);
        if (S_ISREG(st.st_mode)) {
            state += " " + read_file(e.path());
        }
        out[fs::relative(e.path(), root).generic_string()] = state;
    }
    return out;
}

}  // namespace

TEST_CASE(
    "wheel_install: a bad hash in the last member, over an existing install, changes nothing") {
    Setup s;
    s.write(demo_wheel({{"demo/data/old.txt", "old\n"}}));
    wheel_install::install_wheel(s.wheel, s.options);
    const auto before = tree_state(s.dir.path());

    // demo 1.0 again, now replacing existing files (new contents), adding files in new
    // directories and, last in the archive (after RECORD), a member whose bytes do not match.
    std::vector<ZipEntry> members = {
        {"demo/__init__.py", "X = 2\n"},
        {"demo/cli.py", "def main():\n    return 1\n"},
        {"demo/data/old.txt", "new\n"},
        {"demo/new/deep/mod.py", "Y = 1\n"},
        {"demo-1.0.data/data/share/demo/x.txt", "x\n"},
        {"demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"},
        {"demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"},
        {"demo-1.0.dist-info/entry_points.txt", "[console_scripts]\ndemo = demo.cli:main\n"},
    };
    std::string record;
    for (const auto& m : members) {
        record += m.name + "," + wheel_files::record_hash(Digest::of(m.data)) + "," +
                  std::to_string(m.data.size()) + "\n";
    }
    record += "demo/zz_last.py," + wheel_files::record_hash(Digest::of("as listed\n")) + ",10\n";
    record += "demo-1.0.dist-info/RECORD,,\n";
    members.push_back({"demo-1.0.dist-info/RECORD", record});
    members.push_back({"demo/zz_last.py", "tampered!\n"});
    s.write(envpack::testing::make_zip(members));

    CHECK_THROWS_WITH(
        wheel_install::install_wheel(s.wheel, s.options),
        Catch::Contains("demo/zz_last.py") && Catch::Contains("does not match its RECORD hash"));
    const auto after = tree_state(s.dir.path());
    // The wheel file itself was rewritten; everything else is as it was, byte for byte.
    auto without_wheel = [&](auto state) {
        state.erase(s.wheel.filename().string());
        return state;
    };
    CHECK(without_wheel(after) == without_wheel(before));
    CHECK(read_file(s.prefix / "lib/python3.11/site-packages/demo/__init__.py") == "X = 1\n");
    CHECK_FALSE(fs::exists(s.prefix / "lib/python3.11/site-packages/demo/new"));
    CHECK_FALSE(fs::exists(s.prefix / "share"));
}

namespace {

// A layer of `entries` with `compression`: its result and its blob.
std::pair<LayerResult, std::string> layer_of(std::vector<LayerEntry> entries, Compression c) {
    LayerOptions lo;
    lo.compression = c;
    lo.threads = 2;
    StringSink blob;
    LayerResult r = write_layer(std::move(entries), lo, blob);
    return {r, std::move(blob.data())};
}

std::size_t gzip_members(std::string_view blob) {
    std::size_t n = 0;
    for (std::size_t pos = 0; pos < blob.size(); ++n) {
        z_stream zs{};
        REQUIRE(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK);
        std::string out(1 << 20, '\0');
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(blob.data() + pos));
        zs.avail_in = static_cast<uInt>(blob.size() - pos);
        int rc = Z_OK;
        while (rc == Z_OK) {
            zs.next_out = reinterpret_cast<Bytef*>(out.data());
            zs.avail_out = static_cast<uInt>(out.size());
            rc = inflate(&zs, Z_NO_FLUSH);
        }
        REQUIRE(rc == Z_STREAM_END);
        pos = blob.size() - zs.avail_in;
        inflateEnd(&zs);
    }
    return n;
}

}  // namespace

TEST_CASE("wheel_install: layer_files is the layer of the installed tree, deflate streams copied") {
    std::string text;
    for (int i = 0; i < 4000; ++i) {
        text += fmt::format("def f{}(x):\n    return x + {}\n", i, i * 7);
    }
    std::string noise(20000, '\0');
    std::uint32_t seed = 12345;
    for (auto& c : noise) {
        seed = seed * 1103515245 + 12345;
        c = static_cast<char>(seed >> 24);
    }
    Setup s;
    s.write(demo_wheel({{"demo/big.py", text},
                        {"demo/_core.so", noise, 0100755},
                        {"demo/stored.txt", text.substr(0, 9000), 0100644, false},
                        {"demo-1.0.data/scripts/run-demo", "#!python\nimport demo\n", 0100755},
                        {"demo-1.0.data/data/share/demo/x.txt", "x\n"}}));
    // The tree: installed under ROOT/opt/conda, scanned as the builder scans a conda package.
    const fs::path root = s.dir.path() / "root";
    s.options.prefix = root / "opt/conda";
    wheel_install::install_wheel(s.wheel, s.options);
    std::vector<LayerEntry> tree = scan_tree(root, Log::null());
    // The wheel: the same install as entries, nothing written.
    s.options.prefix = "/opt/conda";
    auto files = wheel_install::layer_files(s.wheel, s.options);
    CHECK(files.installed.name == "demo");
    std::uint64_t tree_bytes = 0;
    for (const auto& e : tree) {
        tree_bytes += e.type == EntryType::file ? e.size : 0;
    }
    CHECK(content_size(files.entries) == tree_bytes);
    CHECK_FALSE(fs::exists("/opt/conda/lib/python3.11/site-packages/demo/big.py"));

    for (Compression c : {Compression::gzip, Compression::zstd, Compression::none}) {
        CAPTURE(to_string(c));
        auto [from_tree, tree_blob] = layer_of(tree, c);
        auto [from_wheel, wheel_blob] = layer_of(files.entries, c);
        // The same tar, byte for byte.
        CHECK(from_wheel.diff_id == from_tree.diff_id);
        CHECK(from_wheel.uncompressed_size == from_tree.uncompressed_size);
        CHECK(from_wheel.files == from_tree.files);
        if (c == Compression::none) {
            CHECK(wheel_blob == tree_blob);
            continue;
        }
        CHECK(decompress(c, wheel_blob) == decompress(c, tree_blob));
        CHECK(from_wheel.digest == Digest::of(wheel_blob));
        if (c == Compression::gzip) {
            // The wheel's deflate streams of the two large deflated members are in the blob as
            // they are (the stored member and the small ones are compressed here), each a gzip
            // member of its own, which zlib reads as one stream.
            CHECK(wheel_blob.find(envpack::testing::raw_deflate(text)) != std::string::npos);
            CHECK(wheel_blob.find(envpack::testing::raw_deflate(noise)) != std::string::npos);
            CHECK(gzip_members(wheel_blob) == gzip_members(tree_blob) + 4);
        }
    }
}

TEST_CASE("wheel_install: layer_files leaves the RECORD check of copied members to the layer") {
    std::string text(50000, 'a');
    Setup s;
    s.write(demo_wheel({{"demo/big.txt", text}}, [](std::vector<wheel_files::RecordRow>& rows) {
        for (auto& r : rows) {
            if (r.path == "demo/big.txt") {
                r.hash = wheel_files::record_hash(Digest::of("something else"));
            }
        }
    }));
    s.options.prefix = "/opt/conda";
    auto files = wheel_install::layer_files(s.wheel, s.options);
    for (Compression c : {Compression::gzip, Compression::zstd, Compression::none}) {
        CAPTURE(to_string(c));
        LayerOptions lo;
        lo.compression = c;
        StringSink blob;
        CHECK_THROWS_WITH(
            write_layer(files.entries, lo, blob),
            Catch::Contains("demo/big.txt") && Catch::Contains("does not match its RECORD hash"));
    }
    // The same wheel is refused by install_wheel, and nothing lands.
    s.options.prefix = s.prefix;
    CHECK_THROWS_WITH(wheel_install::install_wheel(s.wheel, s.options),
                      Catch::Contains("does not match its RECORD hash"));
    CHECK(s.prefix_untouched());
}
