// What `envpack build --base VALUE` and a job's `environment.image` may name, made present in the
// local store: a base recipe or an image reference (issue 12, "Recipe or reference").
//
// `BaseSource::parse` decides by the value alone, then the file system: a value ending in `.yaml`
// or `.yml`, or naming an existing regular file (resolved against `relative_to`), is a recipe;
// anything else must parse as an image reference (a bad-input Error naming the value otherwise).
//
// `ensure_base` builds a recipe through build_base_image — a repeat is a cache hit by the recipe's
// build key, with no mmdebstrap run — or finds a reference in the store, pulling it when it names
// a registry and is missing. The image's store name and manifest come back; the caller reads its
// labels (`org.envpack.virtual-packages`) from there.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "registry/client.h"
#include "registry/reference.h"
#include "registry/store.h"

namespace envpack {

class Log;

struct BaseSource {
    enum class Kind { recipe, reference };
    Kind kind = Kind::reference;
    std::filesystem::path recipe;       // Kind::recipe: the file, resolved
    std::optional<ImageRef> reference;  // Kind::reference

    static BaseSource parse(std::string_view value, const std::filesystem::path& relative_to);
    std::string to_string() const;  // the recipe path or the reference, for messages
};

bool looks_like_recipe(std::string_view value);  // ends in .yaml or .yml

struct EnsuredBase {
    std::string name;  // store name
    Descriptor manifest;
    bool built = false;   // a recipe that was not a cache hit
    bool pulled = false;  // a reference fetched from its registry
};

struct BaseContext {
    std::filesystem::path home;  // $ENVPACK_HOME
    RegistryOptions registry;    // for pulls
    std::optional<std::int64_t> source_date_epoch;
    std::string mmdebstrap = "mmdebstrap";  // the program (cli: $ENVPACK_MMDEBSTRAP for tests)
};

// Throws what build_base_image and RegistryClient::pull throw; a reference that is neither in the
// store nor on a registry is a bad-input Error saying how to make it.
EnsuredBase ensure_base(Store& store, const BaseSource& source, const BaseContext& context,
                        Log& log);

}  // namespace envpack
