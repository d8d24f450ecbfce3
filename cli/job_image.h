// The image a job's `environment` names, made present in the local store before a run:
// - an image reference: a local name, or pulled when it names a registry and is missing;
// - `azureml:NAME:VERSION` / `azureml:NAME@latest`: that local image (JobEnvironment);
// - a base recipe (`.yaml`): built on demand by `envpack base build`'s library call, a cache hit
//   when nothing changed;
// - `image` + `conda_file`: the base (either of the above) made present, then the conda file
//   locked — the lock kept in $ENVPACK_HOME (home_lock_path), never written into the job's code —
//   and built on it (builder/env_build.h), a cache hit by build key the second time.
#pragma once

#include <string>

#include "cli/context.h"
#include "launcher/job_spec.h"
#include "registry/store.h"

namespace envpack::cli {

struct JobImage {
    std::string name;  // store name
    Descriptor manifest;
    std::string
        origin;  // "" (in the store), "pulled", "built from recipe ...", "built from ... + ..."
};

// Throws: a bad-input Error located in the job file for a value that is not a reference; what
// base_source.h and env_build.h throw (an image neither in the store nor on a registry, lock
// failures, unsatisfiable environments, mmdebstrap failures). `envpack run` exits 125 for all.
JobImage ensure_job_image(Context& ctx, const JobSpec& job, Store& store);

}  // namespace envpack::cli
