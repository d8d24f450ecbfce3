// Running mmdebstrap for a base recipe, and the local file:// repository a locked rebuild installs
// from. `mmdebstrap_argv` is pure (golden-tested); the rest spawns processes and writes files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "builder/base_lock.h"
#include "builder/base_recipe.h"
#include "core/log.h"

namespace envpack {

struct BootstrapRequest {
    DebianSpec debian;
    // Exact `name=version` packages (a locked rebuild) instead of `debian.packages`.
    std::vector<std::string> pinned;
    // Extra packages (the CUDA components' Debian needs) beside debian.packages.
    std::vector<std::string> extra;
    // A local repository (make_local_repo) to install from instead of debian.mirrors.
    std::optional<std::filesystem::path> local_repo;
    std::filesystem::path target;    // the root filesystem directory (must not exist)
    std::filesystem::path debs_out;  // every .deb used is moved here
    std::string program = "mmdebstrap";
};

// The mmdebstrap command line for `r`: root mode into a directory, the recipe's variant, suite,
// architecture and components, `--include` of the packages, the .debs kept (essential/unlink
// skipped, moved out by a customize hook), and a file:// mirror mounted by mmdebstrap's
// file-mirror-automount hook when `local_repo` is set.
std::vector<std::string> mmdebstrap_argv(const BootstrapRequest& r);

// Runs mmdebstrap (SOURCE_DATE_EPOCH passed through when set). Throws Error: bad input (exit 2)
// naming the package when apt cannot locate one, failure (exit 1) with mmdebstrap's last error
// lines otherwise. The target directory is removed on failure.
void run_bootstrap(const BootstrapRequest& r, std::optional<std::int64_t> source_date_epoch,
                   Log& log);

// Writes a flat APT repository at `repo` (dists/SUITE/main/binary-ARCH/Packages and a Release with
// Suite/Codename SUITE) holding hard links (or copies) of the lock's .debs from `debs_dir`. Throws
// Error when a .deb is missing or its sha256 differs from the lock.
void make_local_repo(const BaseLock& lock, const std::filesystem::path& debs_dir,
                     const std::filesystem::path& repo, Log& log);

// Names of the lock's .debs missing from (or corrupt in) `debs_dir`.
std::vector<std::string> missing_debs(const BaseLock& lock, const std::filesystem::path& debs_dir);

}  // namespace envpack
