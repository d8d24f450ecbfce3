// One-command builds, the pipeline `envpack build` and the launcher call: environment file →
// lock (made, refreshed, refused or taken as is, resolver/lock.h) → image (image_build.h) →
// optional push with the registry build cache (registry/build_cache.h).
//
// Before locking, the base image is put into the store (base_source.h: a recipe built on demand
// and cached, or a reference pulled when it names a registry and is missing) and its
// `org.envpack.virtual-packages` label (image_config.h) read: the target's virtual packages are the
// platform defaults, then the base's label, then `virtual_overrides`
// (`--virtual`). Switching to a base that declares `__cuda` therefore makes an old lock stale.
//
// The lock lives at `lock_file`: by default `conda-lock.yml` beside the environment file; the
// launcher passes `home_lock_path(home, env_file)` for conda files inside a job's code directory,
// so that nothing is written into the snapshot.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "builder/base_source.h"
#include "builder/image_build.h"
#include "registry/client.h"
#include "registry/reference.h"
#include "resolver/condarc.h"
#include "resolver/lock.h"

namespace envpack {

struct EnvBuildRequest {
    std::filesystem::path env_file;
    std::filesystem::path lock_file;  // empty: default_lock_path (beside env_file)
    LockPolicy lock_mode = LockPolicy::refresh;
    std::vector<std::string> virtual_overrides;  // `--virtual`, applied after the base's label
    Offline offline = Offline::no;
    ChannelOptions channel_options;
    // A .condarc applied to the environment file's channels before locking (condarc.h
    // apply_condarc); `alias_from`: an explicit --channel-alias wins over its alias.
    std::optional<Condarc> condarc;
    AliasFrom alias_from = AliasFrom::condarc;
    std::optional<BaseSource> base;         // none: no base
    std::string mmdebstrap = "mmdebstrap";  // for a base recipe built on demand
    std::optional<ImageRef> push;           // push target, also used as the remote build cache
    BuildOptions build;        // `base` and `remote_cache` are filled from the fields above
    RegistryOptions registry;  // for pulling the base and pushing
};

struct EnvBuildResult {
    EnsuredLock lock;
    std::vector<std::string> virtual_overrides;  // the base's label, then the request's
    BuildResult image;
    std::optional<PushResult> pushed;
};

// Throws what EnvSpec::load, ensure_lock, build_environment and RegistryClient throw; a base that
// is neither in the store nor on a registry is a bad-input Error.
EnvBuildResult build_env_file(Store& store, const EnvBuildRequest& request, HttpClient* http,
                              Log& log);

}  // namespace envpack
