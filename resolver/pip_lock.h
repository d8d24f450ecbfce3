// The `pip:` list locked after the conda solve, as conda-lock records it: the list is read as
// pip reads a requirements file (pip_list.h), resolved with pip's backtracking (pip_resolve.h)
// over the list's sources (pip_fetch.h) for the image the conda solve describes — its python
// (the solved `python` record), platform and glibc (`__glibc` of the target's virtual packages) —
// with the conda packages fixed: a requirement on a name conda installed is met by it when the
// versions agree and is a conflict naming the conda package when they do not.
//
// Each chosen wheel becomes a LockedPackage with `manager: pip`, its url, its sha256 (from the
// index, else computed from the file) and its dependencies that apply in the image (name -> the
// specifiers joined with `,`, `*` for any). `--hash` options are checked as pip's hash-checking
// mode does: when any line has one, every chosen wheel must be named by a line whose hashes
// include its sha256. `-c` constraints limit the versions of their names without installing
// them. Source distributions are never chosen; a name that has only those is named in the
// explanation.
#pragma once

#include <expected>
#include <filesystem>
#include <string>
#include <vector>

#include "resolver/lockfile.h"
#include "resolver/package_record.h"
#include "resolver/virtual_packages.h"

namespace envpack {

class HttpClient;
class Log;
struct EnvSpec;

struct PipLockRequest {
    std::string platform = "linux-64";
    std::filesystem::path cache_dir;  // $ENVPACK_HOME/pip
    HttpClient* http = nullptr;       // null: local sources only
    bool offline = false;             // indexes are skipped with a warning
};

struct PipUnresolvable {
    std::string explanation;
};

// Locks `spec`'s pip list against the conda solution `conda` and the target `virtuals`. Returns
// the pip packages in the order they were chosen, or why no set of wheels satisfies the list.
// Throws bad-input Errors located in the environment file (a requirement that does not parse, a
// bad option, no python in the conda solve) and the fetch errors of pip_fetch.
std::expected<std::vector<LockedPackage>, PipUnresolvable> lock_pip_list(
    const EnvSpec& spec, const std::vector<PackageRecord>& conda, const VirtualPackages& virtuals,
    const PipLockRequest& request, Log& log);

}  // namespace envpack
