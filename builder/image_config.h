// The image config of an environment image, rendered from values (pure; golden-file tested):
// the base's config with PATH prefixed by <prefix>/bin, CONDA_PREFIX and CONDA_DEFAULT_ENV set,
// the environment's `variables:` (a variable replaces a base one of the same name), `created` at
// SOURCE_DATE_EPOCH or the epoch, the labels given, and one history entry per added layer (base
// history kept). Unknown fields of the base config survive (ImageConfig::raw).
//
// Label names of environment images live here. A base image says which conda virtual packages it
// provides with `org.envpack.virtual-packages` (k_label_virtual_packages, builder/base_build.h,
// set by `envpack base build`): a JSON object `{"__glibc": "2.36", "__cuda": "12.4"}` (a value
// may be VERSION=BUILD), or a list of `NAME=VERSION[=BUILD]` separated by spaces or commas;
// `envpack build` reads it before it locks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "registry/image.h"

namespace envpack {

inline constexpr const char* k_label_build_key = "org.envpack.build-key";
inline constexpr const char* k_label_lock_digest = "org.envpack.lock-digest";
inline constexpr const char* k_label_packages = "org.envpack.packages";

// The virtual package overrides (`NAME=VERSION[=BUILD]`) a base image's labels declare; none
// when the label is absent. Entries are not validated here (VirtualPackages::apply_override is).
std::vector<std::string> virtual_overrides_from_labels(
    const std::map<std::string, std::string>& labels);

struct AddedLayer {
    Digest diff_id;
    std::string created_by;
};

struct EnvConfigInputs {
    std::string prefix;                                          // "/opt/conda"
    std::vector<std::pair<std::string, std::string>> variables;  // the env file's, in order
    std::optional<std::int64_t> source_date_epoch;
    std::map<std::string, std::string> labels;  // added to (and replacing) the base's
    std::vector<AddedLayer> layers;             // after the base's layers
};

// `base` is the base image's config, or a default-constructed one when there is no base.
ImageConfig render_env_config(ImageConfig base, const EnvConfigInputs& inputs);

}  // namespace envpack
