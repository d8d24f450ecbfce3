#include "builder/env_build.h"

#include <fmt/format.h>

#include "core/error.h"
#include "registry/build_cache.h"
#include "resolver/env_file.h"

namespace envpack {

EnvBuildResult build_env_file(Store& store, const EnvBuildRequest& request, HttpClient* http,
                              Log& log) {
    EnvBuildResult out;
    EnvSpec env = EnvSpec::load(request.env_file);
    for (const auto& note : env.notes) {
        log.warn(note);
    }

    BuildOptions options = request.build;
    if (request.base) {
        BaseContext context;
        context.home = options.home;
        context.registry = request.registry;
        context.source_date_epoch = options.source_date_epoch;
        context.mmdebstrap = request.mmdebstrap;
        const EnsuredBase base = ensure_base(store, *request.base, context, log);
        options.base = base.name;
        const ImageConfig base_config = store.read_config(store.read_manifest(base.manifest));
        out.virtual_overrides = virtual_overrides_from_labels(base_config.labels);
    }
    out.virtual_overrides.insert(out.virtual_overrides.end(), request.virtual_overrides.begin(),
                                 request.virtual_overrides.end());

    LockOptions lock_options;
    lock_options.platforms = {options.platform};
    lock_options.virtual_overrides = out.virtual_overrides;
    lock_options.offline = request.offline;
    lock_options.channel_options = request.channel_options;
    if (request.condarc) {
        apply_condarc(*request.condarc, env, lock_options.channel_options,
                      lock_options.solver_options, request.alias_from);
    }
    lock_options.repodata_cache = options.home / "repodata";
    lock_options.http = http;
    const std::filesystem::path lock_path =
        request.lock_file.empty() ? default_lock_path(env) : request.lock_file;
    out.lock = ensure_lock(env, lock_path, request.lock_mode, lock_options, log);

    std::optional<RegistryBuildCache> remote;
    if (request.push) {
        remote.emplace(*request.push, request.registry, log);
        options.remote_cache = &*remote;
    }
    out.image = build_environment(store, env, out.lock.lock, options, http, log);
    if (request.push) {
        RegistryClient client(request.registry, log);
        out.pushed = client.push(store, out.image.name, *request.push);
        if (!out.image.cached_remote) {
            remote->publish(store, out.image.name, out.image.build_key);
        }
    }
    return out;
}

}  // namespace envpack
