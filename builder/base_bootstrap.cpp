#include "builder/base_bootstrap.h"

#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"

namespace envpack {

namespace fs = std::filesystem;

namespace {

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (const auto& s : v) {
        out += out.empty() ? "" : std::string(sep);
        out += s;
    }
    return out;
}

}  // namespace

std::vector<std::string> mmdebstrap_argv(const BootstrapRequest& r) {
    std::vector<std::string> argv = {r.program,
                                     "--mode=root",
                                     "--format=directory",
                                     "--variant=" + r.debian.variant,
                                     "--architectures=" + r.debian.architecture,
                                     "--components=" + join(r.debian.components, ","),
                                     "--skip=essential/unlink"};
    std::vector<std::string> include = r.pinned;
    if (include.empty()) {
        include = r.debian.packages;
    }
    for (const auto& e : r.extra) {
        if (std::find(include.begin(), include.end(), e) == include.end() &&
            std::none_of(include.begin(), include.end(),
                         [&](const std::string& i) { return i.starts_with(e + "="); })) {
            include.push_back(e);
        }
    }
    if (!include.empty()) {
        argv.push_back("--include=" + join(include, ","));
    }
    if (r.local_repo) {
        argv.push_back("--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount");
    }
    // The .debs apt used (essential ones kept by skipping essential/unlink) leave the tree here.
    argv.push_back(fmt::format(
        "--customize-hook=mkdir -p {0} && find \"$1/var/cache/apt/archives\" -maxdepth 1 -name "
        "'*.deb' -exec mv -t {0} {{}} + && rm -f \"$1\"/var/cache/apt/*.bin",
        shell_quote(r.debs_out.string())));
    argv.push_back(r.debian.suite);
    argv.push_back(r.target.string());
    if (r.local_repo) {
        argv.push_back(fmt::format("deb [trusted=yes] file://{} {} main", r.local_repo->string(),
                                   r.debian.suite));
    } else {
        for (const auto& m : r.debian.mirrors) {
            argv.push_back(m);
        }
    }
    return argv;
}

// mmdebstrap mounts /proc, /sys, /dev/pts and /dev/shm inside its target while it runs and leaves
// them there when it is killed: removing the tree then would walk into the host's /sys. Detach
// every mount at or below `target` (deepest first) before removing anything.
static void remove_bootstrap_tree(const fs::path& target) {
    std::error_code ec;
    fs::path root = fs::weakly_canonical(target, ec);
    if (ec) {
        return;
    }
    std::vector<std::string> mounts;
    std::ifstream in("/proc/self/mounts");
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::string device, point;
        fields >> device >> point;
        if (point == root.string() || point.starts_with(root.string() + "/")) {
            mounts.push_back(point);
        }
    }
    std::sort(mounts.begin(), mounts.end(),
              [](const auto& a, const auto& b) { return a.size() > b.size(); });
    for (const auto& point : mounts) {
        if (::umount2(point.c_str(), MNT_DETACH) != 0) {
            // Still mounted: refuse to remove anything rather than delete through it.
            return;
        }
    }
    fs::remove_all(target, ec);
}

void run_bootstrap(const BootstrapRequest& r, std::optional<std::int64_t> source_date_epoch,
                   Log& log) {
    if (!find_in_path(r.program)) {
        throw Error(fmt::format("base build: `{}` is not installed", r.program),
                    "install it: apt-get install mmdebstrap");
    }
    auto argv = mmdebstrap_argv(r);
    log.infof("base build: {}", join(argv, " "));
    ProcessOptions po;
    if (source_date_epoch) {
        po.env["SOURCE_DATE_EPOCH"] = std::to_string(*source_date_epoch);
    }
    po.env["LC_ALL"] = "C.UTF-8";
    ProcessResult res = run_process(argv, po);
    if (res.ok()) {
        return;
    }
    remove_bootstrap_tree(r.target);
    std::string all = res.err + res.out;
    static const std::regex locate(R"(Unable to locate package ([^\s]+))");
    static const std::regex no_version(R"(Version '([^']+)' for '([^']+)' was not found)");
    std::smatch m;
    if (std::regex_search(all, m, locate)) {
        throw bad_input(
            fmt::format("base build: Debian package `{}` does not exist in {} ({})", m[1].str(),
                        r.debian.suite,
                        r.local_repo ? "the local package cache" : join(r.debian.mirrors, " ")),
            "check the name in `debian.packages` (apt-cache search NAME)");
    }
    if (std::regex_search(all, m, no_version)) {
        throw Error(fmt::format("base build: the lock pins {} {}, which the archive no longer has",
                                m[2].str(), m[1].str()),
                    "run `envpack base build --update` to resolve the recipe again");
    }
    // The last few error lines say what went wrong.
    std::vector<std::string> lines;
    std::istringstream in(res.err);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("E:") || line.starts_with("W:") ||
            line.find("rror") != std::string::npos) {
            lines.push_back(line);
        }
    }
    if (lines.size() > 8) {
        lines.erase(lines.begin(), lines.end() - 8);
    }
    throw Error(fmt::format("base build: mmdebstrap failed (exit {}):\n  {}", res.status_code(),
                            join(lines, "\n  ")),
                "check the mirror is reachable and the recipe's suite and packages exist; run "
                "with -v to see the mmdebstrap command");
}

std::vector<std::string> missing_debs(const BaseLock& lock, const fs::path& debs_dir) {
    std::vector<std::string> out;
    for (const auto& p : lock.packages) {
        fs::path f = debs_dir / p.filename;
        std::error_code ec;
        auto size = fs::file_size(f, ec);
        if (ec || size != p.size) {
            out.push_back(p.filename);
        }
    }
    return out;
}

void make_local_repo(const BaseLock& lock, const fs::path& debs_dir, const fs::path& repo,
                     Log& log) {
    std::error_code ec;
    fs::remove_all(repo, ec);
    fs::path pool = repo / "pool";
    fs::path bin = repo / "dists" / lock.suite / "main" / ("binary-" + lock.architecture);
    make_dirs(pool);
    make_dirs(bin);
    for (const auto& p : lock.packages) {
        fs::path src = debs_dir / p.filename;
        Digest d = Digest::of_file(src.string());
        if (d.hex() != p.sha256) {
            throw Error(fmt::format("base build: cached `{}` has sha256 {}, the lock says {}",
                                    src.string(), d.hex(), p.sha256),
                        "delete the file; it is downloaded again on the next online build");
        }
        fs::create_hard_link(src, pool / p.filename, ec);
        if (ec) {
            fs::copy_file(src, pool / p.filename, fs::copy_options::overwrite_existing);
        }
    }
    ProcessOptions po;
    po.cwd = repo.string();
    ProcessResult pk = run_process({"apt-ftparchive", "packages", "pool"}, po);
    if (!pk.ok()) {
        throw Error(fmt::format("base build: apt-ftparchive packages failed: {}", pk.err),
                    "install apt-utils");
    }
    write_file_atomic(bin / "Packages", pk.out, Durability::none);
    ProcessResult rel =
        run_process({"apt-ftparchive", "-o", "APT::FTPArchive::Release::Suite=" + lock.suite, "-o",
                     "APT::FTPArchive::Release::Codename=" + lock.suite, "-o",
                     "APT::FTPArchive::Release::Architectures=" + lock.architecture, "-o",
                     "APT::FTPArchive::Release::Components=main", "release",
                     (fs::path("dists") / lock.suite).string()},
                    po);
    if (!rel.ok()) {
        throw Error(fmt::format("base build: apt-ftparchive release failed: {}", rel.err));
    }
    write_file_atomic(repo / "dists" / lock.suite / "Release", rel.out, Durability::none);
    log.infof("base build: local repository of {} packages at {}", lock.packages.size(),
              repo.string());
}

}  // namespace envpack
