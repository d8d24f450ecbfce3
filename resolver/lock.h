// The lock pipeline as library calls, for `envpack lock`, `envpack build` and the launcher:
//
// - `lock_environment` solves an EnvSpec into a LockFile: channels parsed (file:line:column on a
//   bad one), each channel's PLATFORM and noarch repodata fetched (or read from the cache) and
//   merged, the target's virtual packages built from the platform defaults and the overrides,
//   solved per platform. Versions of a previous lock are preferred where the request allows them
//   (libsolv favour jobs), so re-locking after an edit moves only what the edit needs.
// - Freshness: a lock answers an environment when it was solved from the same inputs. The lock
//   records them (conda-lock v1 `content_hash` plus `custom_metadata`, which conda-lock reads):
//   the environment file's content hash per platform, the target's virtual packages per platform
//   (`envpack.virtual-packages.PLATFORM`), and the sha256 of every file the `pip:` list includes
//   (`-r`/`-c`, recursively; `envpack.include.PATH`, the path relative to the environment file).
//   A lock whose local-channel packages lie outside the channels the file names now (a copied
//   checkout) is stale too.
// - `ensure_lock` is the one-command policy: use the lock when fresh; solve again (preferring the
//   old versions), write it and say why when it is missing or stale; `LockPolicy::locked` refuses
//   that (exit 2 naming the file), `LockPolicy::frozen` takes the lock as it is.
// - Local channels are named in image labels and cache keys as the environment file writes them
//   (`portable_url`), so two checkouts of one project in different folders build equal digests.
#pragma once

#include <expected>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "resolver/channel.h"
#include "resolver/env_file.h"
#include "resolver/lockfile.h"
#include "resolver/solver.h"
#include "resolver/virtual_packages.h"

namespace envpack {

class HttpClient;
class Log;

// Options of a solve. Defaults: linux-64, the platform's default virtual packages, online.
struct LockOptions {
    std::vector<std::string> platforms = {"linux-64"};
    // `NAME=VERSION[=BUILD]` / `NAME=` overrides applied in order over the platform defaults
    // (VirtualPackages::apply_override): the base image's label first, then `--virtual`.
    std::vector<std::string> virtual_overrides;
    Offline offline = Offline::no;
    ChannelOptions channel_options;
    SolverOptions solver_options;  // channel priority, solution policy (solver.h)
    // Usually $ENVPACK_HOME/repodata; the pip list's wheels are cached in `pip` beside it.
    std::filesystem::path repodata_cache;
    HttpClient* http = nullptr;  // null: local channels and the offline cache only
    // A previous lock whose versions are preferred where the request allows them; null: none.
    const LockFile* preferred = nullptr;
};

struct LockUnsatisfiable {
    std::string platform;
    Unsatisfiable detail;

    // The error `lock` and `build` end with (exit 3), naming the file and the platform.
    Error to_error(const std::filesystem::path& env_file) const;
};

// Solves `spec` for every platform of `options`. The returned lock carries the content hash and
// the freshness metadata described above. Throws Error: bad input (exit 2) for a malformed
// channel or spec (file:line:column), unsatisfiable (exit 3) for a spec nothing provides, failure
// (1) for channels that cannot be read.
std::expected<LockFile, LockUnsatisfiable> lock_environment(const EnvSpec& spec,
                                                            const LockOptions& options, Log& log);

// The target's virtual packages for `platform` after `overrides`. Throws bad-input Error for a
// malformed override.
VirtualPackages target_virtual_packages(std::string_view platform,
                                        const std::vector<std::string>& overrides);
// "__archspec=1=x86_64 __glibc=2.36 __linux=4.18=0 ...": sorted, one NAME=VERSION=BUILD each.
std::string virtual_packages_text(const VirtualPackages& virtuals);

// The files the `pip:` list includes (`-r FILE`, `-c FILE`, `--requirement FILE`, ...), followed
// recursively, as path (relative to the environment file, `/`-separated) -> sha256 hex of the
// content ("missing" when the file cannot be read).
std::map<std::string, std::string> included_file_hashes(const EnvSpec& spec);

// Records what a solve of `spec` for `platform` with `overrides` depended on into `lock`.
void record_lock_inputs(LockFile& lock, const EnvSpec& spec, std::string_view platform,
                        const std::vector<std::string>& overrides);

enum class LockFreshnessState { fresh, stale };

struct LockFreshness {
    LockFreshnessState state = LockFreshnessState::fresh;
    std::string reason;  // why it is stale, for people ("`env.yml` changed since it was locked")
    bool fresh() const { return state == LockFreshnessState::fresh; }
};

// Whether `lock` answers `spec` for `platforms` with `overrides` (see the header comment).
LockFreshness lock_freshness(const LockFile& lock, const EnvSpec& spec,
                             const std::vector<std::string>& platforms,
                             const std::vector<std::string>& overrides);

// What a build does about a missing or stale lock.
enum class LockPolicy {
    refresh,  // solve again, preferring the old lock's versions, and write the lock (default)
    locked,   // refuse: bad-input Error naming the lock file (`--locked`, for CI)
    frozen,   // use the lock as it is, without checking freshness (`--frozen`)
};

enum class LockAction { used, created, relocked };
std::string_view to_string(LockAction action);

struct EnsuredLock {
    LockFile lock;
    std::filesystem::path path;
    LockAction action = LockAction::used;
    std::string reason;  // why it was (re)created; empty when used
};

// The lock at `lock_path` for `spec` under `mode` (see above). A written lock is replaced
// atomically; its parent directory is created. Throws Error: bad input (2) for a refused,
// unreadable or malformed lock, unsatisfiable (3) with the solver's explanation, and what
// lock_environment throws.
EnsuredLock ensure_lock(const EnvSpec& spec, const std::filesystem::path& lock_path,
                        LockPolicy mode, const LockOptions& options, Log& log);

// `conda-lock.yml` beside the environment file.
std::filesystem::path default_lock_path(const EnvSpec& spec);
// Where a lock made on demand lives when it must stay out of the environment file's folder (a
// job's code directory, which is snapshotted): `home/locks/<sha256 of the absolute env file
// path, 32 hex>/conda-lock.yml`.
std::filesystem::path home_lock_path(const std::filesystem::path& home,
                                     const std::filesystem::path& env_file);

// `url` with a local channel of `spec` (a `file://` URL) replaced by the channel as the
// environment file writes it (`./channel/linux-64/x.conda`); other URLs unchanged.
std::string portable_url(std::string_view url, const EnvSpec& spec);
// The lock's text with every package URL made portable: the same project locked in two folders
// gives the same text (and digest).
std::string portable_lock_text(const LockFile& lock, const EnvSpec& spec);

}  // namespace envpack
