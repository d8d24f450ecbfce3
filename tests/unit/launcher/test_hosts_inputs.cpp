// A job's local inputs on envpack.hosts (hosts_inputs.h): which paths a plan sends, the node
// spec naming the host's cached copy (`@input/HEX`) and localize finding it in the host's cache;
// the digest of an input depends on its content, names, kinds and exec bits only (not mtimes,
// owners or other mode bits); bad inputs (missing, symlinks leaving the input, special files,
// unreadable files) are errors naming the input; the input stream into a cache, checked by digest,
// a damaged or unsafe tar refused and nothing of it kept.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

#include "core/compress.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/tar_writer.h"
#include "launcher/hosts_inputs.h"
#include "launcher/node_spec.h"
#include "plan_mounts.h"

using namespace envpack;
namespace fs = std::filesystem;
using envpack::testing::mount_at;

namespace {

void put(const fs::path& path, const std::string& text, fs::perms mode = fs::perms(0644)) {
    make_dirs(path.parent_path());
    write_file_atomic(path, text, Durability::none);
    fs::permissions(path, mode);
}

// A folder input: nested files, an executable, an empty folder, a symlink inside.
void make_tree(const fs::path& root) {
    put(root / "a.txt", "alpha\n");
    put(root / "sub" / "b.bin", std::string(70000, 'b'));
    put(root / "sub" / "run.sh", "#!/bin/sh\n", fs::perms(0755));
    make_dirs(root / "empty");
    fs::create_symlink("sub/b.bin", root / "link");
}

RunPlan inputs_plan(const fs::path& job_dir, const fs::path& record) {
    JobSpec job = JobSpec::parse(
        "command: python3 t.py ${{inputs.data}} ${{inputs.labels}} ${{inputs.dl}} "
        "${{inputs.raw}} ${{inputs.epochs}}\n"
        "environment: demo/env:1\n"
        "inputs:\n"
        "  data: {type: uri_folder, path: ./data}\n"
        "  labels: {type: uri_file, path: ./labels.csv, mode: ro_mount}\n"
        "  dl: {type: uri_folder, path: ./dl, mode: download}\n"
        "  raw: {type: uri_folder, path: /somewhere, mode: direct}\n"
        "  epochs: 3\n"
        "distribution: {type: pytorch, process_count_per_instance: 1}\n"
        "resources: {instance_count: 2}\n"
        "envpack:\n  remote_exec: ip netns exec\n"
        "  hosts: [{name: h1, address: 10.9.0.2}, {name: h2, address: 10.9.0.3}]\n",
        (job_dir / "job.yml").string());
    PlanContext c;
    c.run_id = "r1";
    c.image = "demo/env:1";
    c.image_digest = "sha256:" + std::string(64, '1');
    c.run_dir = record;
    c.pause_path = "/opt/envpack/envpack-pause";
    c.agent_path = "/opt/envpack/envpack-agent";
    return make_plan(job, c);
}

Digest digest_of(const fs::path& path) {
    return read_input({"x", path}).digest;
}

std::string error_of(const LocalInput& input) {
    try {
        read_input(input);
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::run_failed);
        return e.what();
    }
    FAIL("no error for " << input.source);
    return "";
}

// `text` as an input stream file, opened for reading.
UniqueFd stream_fd(const fs::path& file, const std::string& text) {
    write_file_atomic(file, text, Durability::none);
    return UniqueFd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
}

// The cache holds nothing but `sha256/` folders of complete inputs (no temporary files).
std::vector<std::string> cache_entries(const fs::path& cache) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(cache / "sha256", ec); it != fs::directory_iterator();
         ++it) {
        out.push_back(it->path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string tar_of(const std::vector<tar::TarHeader>& members) {
    StringSink s;
    for (const auto& h : members) {
        tar::write_tar_header(s, h);
    }
    tar::write_tar_end(s);
    return s.data();
}

}  // namespace

TEST_CASE("hosts inputs: the plan's local inputs; node specs name the host's cached copy") {
    TempDir tmp;
    fs::path job = tmp.path() / "job";
    RunPlan plan = inputs_plan(job, tmp.path() / "runs" / "r1");
    make_dirs(tmp.path() / "runs" / "r1");
    write_file_atomic(tmp.path() / "runs" / "r1" / "hosts", plan.etc_hosts, Durability::none);
    auto inputs = plan_local_inputs(plan);
    REQUIRE(inputs.size() == 3);  // `direct` and literals are not sent
    CHECK(inputs[0] == LocalInput{"data", job / "data"});
    CHECK(inputs[1] == LocalInput{"labels", job / "labels.csv"});
    CHECK(inputs[2] == LocalInput{"dl", job / "dl"});

    Digest d_data = Digest::of("data"), d_labels = Digest::of("labels"), d_dl = Digest::of("dl");
    std::map<std::string, Digest> digests = {{(job / "data").string(), d_data},
                                             {(job / "labels.csv").string(), d_labels},
                                             {(job / "dl").string(), d_dl}};
    Descriptor manifest;
    manifest.digest = Digest::of("m");
    NodeSpec s1 = make_node_spec(plan, 1, tmp.path() / "runs" / "r1", manifest, "runc", digests);
    CHECK(mount_at(s1.container, "/mnt/inputs/data").source == "@input/" + d_data.hex());
    CHECK(mount_at(s1.container, "/mnt/inputs/data").read_only());
    CHECK(mount_at(s1.container, "/mnt/inputs/labels/labels.csv").source ==
          "@input/" + d_labels.hex());
    const PlanMount& dl = mount_at(s1.container, "/mnt/inputs/dl");
    CHECK(dl.copy_from == "@input/" + d_dl.hex());
    CHECK(dl.source == "@run/nodes/h2/inputs/dl");
    // No launching-machine path of an input is left in the spec.
    CHECK(s1.to_json().dump().find(job.string()) == std::string::npos);

    PlanContainer c =
        localize(s1, "/h2/node-runs/r1/h2", "/usr/lib/envpack", "/h2/rootfs", "/h2/inputs");
    CHECK(mount_at(c, "/mnt/inputs/data").source ==
          "/h2/inputs/sha256/" + d_data.hex() + "/content");
    CHECK(mount_at(c, "/mnt/inputs/labels/labels.csv").source ==
          "/h2/inputs/sha256/" + d_labels.hex() + "/content");
    CHECK(mount_at(c, "/mnt/inputs/dl").copy_from ==
          "/h2/inputs/sha256/" + d_dl.hex() + "/content");
    CHECK(mount_at(c, "/mnt/inputs/dl").source == "/h2/node-runs/r1/h2/nodes/h2/inputs/dl");

    // A host whose cache lacks an input refuses to start the node, naming the input.
    TempDir cache;
    CHECK_THROWS_WITH(check_node_inputs(s1, cache.path()),
                      Catch::Contains("input `data`") && Catch::Contains(d_data.hex()));
    for (const Digest& d : {d_data, d_labels, d_dl}) {
        make_dirs(input_content_path(cache.path(), d));
    }
    CHECK_NOTHROW(check_node_inputs(s1, cache.path()));
}

TEST_CASE("hosts inputs: the digest is the content's, not mtimes, owners or modes") {
    TempDir tmp;
    make_tree(tmp.path() / "a");
    InputTree t = read_input({"data", tmp.path() / "a"});
    REQUIRE(t.entries.size() == 7);
    CHECK(t.entries[0].path.empty());
    CHECK(t.entries[0].type == InputEntryType::directory);
    CHECK(t.entries[3].path == "link");
    CHECK(t.entries[3].type == InputEntryType::symlink);
    CHECK(t.entries[3].link_target == "sub/b.bin");
    StringSink tar;
    CHECK(write_input_tar(t, tar) == t.tar_bytes);
    CHECK(Digest::of(tar.data()) == t.digest);

    // The same tree made again later, with other mtimes, owners and non-exec modes.
    make_tree(tmp.path() / "b");
    fs::last_write_time(tmp.path() / "b" / "a.txt",
                        fs::file_time_type::clock::now() - std::chrono::hours(50));
    fs::permissions(tmp.path() / "b" / "a.txt", fs::perms(0600));
    if (::geteuid() == 0) {
        REQUIRE(::chown((tmp.path() / "b" / "a.txt").c_str(), 1234, 1234) == 0);
    }
    CHECK(digest_of(tmp.path() / "b") == t.digest);
    // Through a symlink to the folder: the folder.
    fs::create_symlink(tmp.path() / "b", tmp.path() / "via");
    CHECK(digest_of(tmp.path() / "via") == t.digest);

    // Content, an exec bit, a name, an empty folder: each changes it.
    put(tmp.path() / "b" / "a.txt", "alphA\n");
    CHECK(digest_of(tmp.path() / "b") != t.digest);
    put(tmp.path() / "b" / "a.txt", "alpha\n", fs::perms(0744));
    CHECK(digest_of(tmp.path() / "b") != t.digest);
    put(tmp.path() / "b" / "a.txt", "alpha\n");
    CHECK(digest_of(tmp.path() / "b") == t.digest);
    fs::rename(tmp.path() / "b" / "empty", tmp.path() / "b" / "empty2");
    CHECK(digest_of(tmp.path() / "b") != t.digest);
    fs::remove(tmp.path() / "b" / "empty2");
    CHECK(digest_of(tmp.path() / "b") != t.digest);

    // A file input: one entry; its name is not part of the digest.
    put(tmp.path() / "labels.csv", "1,2\n");
    put(tmp.path() / "other.csv", "1,2\n");
    InputTree f = read_input({"labels", tmp.path() / "labels.csv"});
    REQUIRE(f.entries.size() == 1);
    CHECK(f.entries[0].type == InputEntryType::file);
    CHECK(digest_of(tmp.path() / "other.csv") == f.digest);
    CHECK(f.digest != digest_of(tmp.path() / "a" / "a.txt"));
}

TEST_CASE("hosts inputs: bad inputs are errors naming the input (exit 125)") {
    TempDir tmp;
    fs::path root = tmp.path() / "in";
    make_tree(root);

    CHECK_THAT(error_of({"gone", tmp.path() / "missing"}),
               Catch::Contains("input `gone`") && Catch::Contains("does not exist"));

    fs::create_symlink("/etc/passwd", root / "abs");
    CHECK_THAT(error_of({"data", root}), Catch::Contains("input `data`") &&
                                             Catch::Contains("`abs` -> `/etc/passwd`") &&
                                             Catch::Contains("absolute"));
    fs::remove(root / "abs");

    fs::create_symlink("../../outside", root / "sub" / "up");
    CHECK_THAT(error_of({"data", root}),
               Catch::Contains("`sub/up` -> `../../outside`") && Catch::Contains("outside"));
    fs::remove(root / "sub" / "up");

    // Inside as written, outside as resolved: sub/deep/d is the input itself, so d/../x is
    // beside the input.
    make_dirs(root / "sub" / "deep");
    fs::create_symlink("../..", root / "sub" / "deep" / "d");
    CHECK_NOTHROW(read_input({"data", root}));
    fs::create_symlink("d/../x", root / "sub" / "deep" / "y");
    CHECK_THAT(error_of({"data", root}), Catch::Contains("`sub/deep/y` -> `d/../x`"));
    fs::remove(root / "sub" / "deep" / "y");

    REQUIRE(::mkfifo((root / "pipe").c_str(), 0644) == 0);
    CHECK_THAT(error_of({"data", root}),
               Catch::Contains("input `data`") && Catch::Contains("`pipe` is a fifo"));
    fs::remove(root / "pipe");
    CHECK_NOTHROW(read_input({"data", root}));

    // Unreadable files and folders (for a user other than root, who reads everything).
    if (::geteuid() == 0) {
        // The error reading the input as nobody ("" when none).
        auto error_as_nobody = [&] {
            REQUIRE(::seteuid(65534) == 0);
            std::string message;
            try {
                read_input({"data", root});
            } catch (const Error& e) {
                message = e.what();
            }
            REQUIRE(::seteuid(0) == 0);
            return message;
        };
        fs::permissions(tmp.path(), fs::perms(0755));
        fs::permissions(root / "sub" / "b.bin", fs::perms(0600));
        CHECK_THAT(error_as_nobody(),
                   Catch::Contains("input `data`") && Catch::Contains("cannot read `sub/b.bin`"));
        fs::permissions(root / "sub", fs::perms(0700));
        CHECK_THAT(error_as_nobody(),
                   Catch::Contains("input `data`") && Catch::Contains("Permission denied"));
    }
}

TEST_CASE("hosts inputs: the input stream fills a cache, checked by digest") {
    TempDir tmp;
    make_tree(tmp.path() / "data");
    put(tmp.path() / "labels.csv", "1,2\n");
    InputTree folder = read_input({"data", tmp.path() / "data"});
    InputTree file = read_input({"labels", tmp.path() / "labels.csv"});
    fs::path cache = tmp.path() / "cache";

    fs::path stream = tmp.path() / "stream";
    {
        UniqueFd out(::open(stream.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        CHECK(write_input_stream(out.get(), {&folder, &file}) == folder.tar_bytes + file.tar_bytes);
    }
    UniqueFd in(::open(stream.c_str(), O_RDONLY | O_CLOEXEC));
    CHECK(receive_input_stream(in.get(), cache) == 2);
    fs::path got = input_content_path(cache, folder.digest);
    CHECK(read_file(got / "a.txt") == "alpha\n");
    CHECK(read_file(got / "sub" / "b.bin") == std::string(70000, 'b'));
    CHECK(fs::read_symlink(got / "link") == "sub/b.bin");
    CHECK(fs::is_directory(got / "empty"));
    CHECK((fs::status(got / "sub" / "run.sh").permissions() & fs::perms::owner_exec) !=
          fs::perms::none);
    CHECK(read_file(input_content_path(cache, file.digest)) == "1,2\n");
    // What the cache holds reads back as the same input.
    CHECK(digest_of(got) == folder.digest);
    CHECK(inputs_present(cache, {folder.digest.to_string(), Digest::of("no").to_string(), "junk",
                                 file.digest.to_string()}) ==
          std::vector<std::string>{folder.digest.to_string(), file.digest.to_string()});

    // Received again (a second run racing the first): the cached copy stays, nothing is left over.
    UniqueFd again(::open(stream.c_str(), O_RDONLY | O_CLOEXEC));
    CHECK(receive_input_stream(again.get(), cache) == 2);
    CHECK(cache_entries(cache) == [&] {
        std::vector<std::string> v = {folder.digest.hex(), file.digest.hex()};
        std::sort(v.begin(), v.end());
        return v;
    }());

    // Bytes that do not match the digest: refused, nothing kept.
    StringSink tar;
    write_input_tar(file, tar);
    std::string bad = tar.data();
    bad[bad.find("1,2")] = '9';
    Digest claimed = Digest::of("claimed");
    UniqueFd damaged =
        stream_fd(tmp.path() / "damaged",
                  fmt::format("input {} {}\n{}end\n", claimed.to_string(), bad.size(), bad));
    CHECK_THROWS_WITH(receive_input_stream(damaged.get(), cache), Catch::Contains("has digest"));
    CHECK(cache_entries(cache).size() == 2);

    // Cut short.
    UniqueFd cut =
        stream_fd(tmp.path() / "cut", fmt::format("input {} 99999\nabc", claimed.to_string()));
    CHECK_THROWS_WITH(receive_input_stream(cut.get(), cache), Catch::Contains("ended inside"));
    CHECK(cache_entries(cache).size() == 2);

    // A tar (with a matching digest) that would write outside the input or through a symlink.
    auto refuse = [&](const std::string& t, const std::string& why) {
        UniqueFd fd =
            stream_fd(tmp.path() / "unsafe",
                      fmt::format("input {} {}\n{}end\n", Digest::of(t).to_string(), t.size(), t));
        CHECK_THROWS_WITH(receive_input_stream(fd.get(), cache), Catch::Contains(why));
        CHECK(cache_entries(cache).size() == 2);
    };
    tar::TarHeader dir;
    dir.name = "content/";
    dir.typeflag = '5';
    tar::TarHeader up;
    up.name = "content/up";
    up.typeflag = '2';
    up.linkname = "../..";
    refuse(tar_of({dir, up}), "leaves the input");
    tar::TarHeader link;
    link.name = "content/l";
    link.typeflag = '2';
    link.linkname = ".";
    tar::TarHeader through;
    through.name = "content/l/f";
    refuse(tar_of({dir, link, through}), "not inside a folder of the input");
    tar::TarHeader other;
    other.name = "etc/passwd";
    refuse(tar_of({other}), "unexpected member");
}

TEST_CASE("hosts inputs: the digest memo spares reading an unchanged input, never a changed one") {
    TempDir tmp;
    fs::path data = tmp.path() / "data";
    fs::path memo = tmp.path() / "memo";
    make_tree(data);
    fs::permissions(tmp.path(), fs::perms(0755));
    fs::permissions(data / "a.txt", fs::perms(0600));  // only root reads it
    InputTree first = read_input({"data", data}, memo);
    CHECK(first.digest == read_input({"data", data}).digest);
    CHECK(std::distance(fs::directory_iterator(memo), fs::directory_iterator()) == 1);
    InputTree again = read_input({"data", data}, memo);
    CHECK(again.digest == first.digest);
    CHECK(again.tar_bytes == first.tar_bytes);
    if (::geteuid() == 0) {
        // A user who cannot read a.txt gets the remembered digest: the files were not read.
        REQUIRE(::seteuid(65534) == 0);
        std::optional<Digest> as_nobody;
        std::string error;
        try {
            as_nobody = read_input({"data", data}, memo).digest;
        } catch (const Error& e) {
            error = e.what();
        }
        REQUIRE(::seteuid(0) == 0);
        CHECK(error.empty());
        CHECK(as_nobody == first.digest);
    }
    // The same size, inode and mtime, new bytes: the ctime moved, so the input is read again.
    auto mtime = fs::last_write_time(data / "a.txt");
    {
        std::ofstream in_place(data / "a.txt", std::ios::binary | std::ios::trunc);
        in_place << "ALPHA\n";
    }
    fs::last_write_time(data / "a.txt", mtime);
    InputTree changed = read_input({"data", data}, memo);
    CHECK(changed.digest != first.digest);
    CHECK(changed.digest == read_input({"data", data}).digest);
}
