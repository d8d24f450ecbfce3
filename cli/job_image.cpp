#include "cli/job_image.h"

#include <fmt/format.h>

#include "builder/base_source.h"
#include "builder/env_build.h"
#include "builder/layer.h"
#include "cli/http_env.h"
#include "core/error.h"
#include "core/http.h"
#include "resolver/condarc.h"
#include "resolver/lock.h"

namespace envpack::cli {

namespace {

BaseContext base_context(const Context& ctx) {
    BaseContext c;
    c.home = ctx.home;
    c.source_date_epoch = source_date_epoch_from_env();
    c.mmdebstrap = mmdebstrap_from_env();
    return c;
}

// The environment's image or recipe, resolved against the job file's folder; a value that is
// neither is an error located in the job file.
BaseSource job_base_source(const JobSpec& job, const std::string& value) {
    try {
        return BaseSource::parse(value, job.base_dir);
    } catch (const Error& e) {
        throw job.error_at(job.environment.mark, e.what(), e.hint());
    }
}

}  // namespace

JobImage ensure_job_image(Context& ctx, const JobSpec& job, Store& store) {
    const JobEnvironment& env = job.environment;
    const std::string value =
        env.kind == JobEnvironment::Kind::azureml ? env.azureml_image() : env.image;
    const BaseSource source = job_base_source(job, value);
    if (env.kind != JobEnvironment::Kind::conda) {
        EnsuredBase base = ensure_base(store, source, base_context(ctx), ctx.log);
        std::string origin;  // empty: found in the store as named
        if (source.kind == BaseSource::Kind::recipe) {
            origin = base.built ? fmt::format("built from recipe {}", source.recipe.string())
                                : fmt::format("recipe {} (cached)", source.recipe.string());
        } else if (base.pulled) {
            origin = "pulled";
        }
        return {base.name, base.manifest, origin};
    }

    EnvBuildRequest request;
    request.env_file = job.base_dir / env.conda_file;
    request.lock_file = home_lock_path(ctx.home, request.env_file);
    request.lock_mode = LockPolicy::refresh;
    request.base = source;
    request.mmdebstrap = mmdebstrap_from_env();
    if (auto rc = condarc_from_environment()) {
        request.condarc = std::move(rc->first);  // as `envpack build` reads it
    }
    request.build.home = ctx.home;
    request.build.source_date_epoch = source_date_epoch_from_env();
    HttpClient http(http_options_from_env(ctx.log));
    EnvBuildResult built = build_env_file(store, request, &http, ctx.log);
    return {built.image.name, built.image.manifest,
            fmt::format("{} from {} + {}", built.image.cached ? "cached" : "built", env.image,
                        env.conda_file)};
}

}  // namespace envpack::cli
