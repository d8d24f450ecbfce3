#include "builder/base_source.h"

#include <fmt/format.h>

#include "builder/base_build.h"
#include "core/error.h"
#include "core/log.h"
#include "core/strings.h"

namespace envpack {

namespace fs = std::filesystem;

bool looks_like_recipe(std::string_view value) {
    return value.ends_with(".yaml") || value.ends_with(".yml");
}

BaseSource BaseSource::parse(std::string_view value, const fs::path& relative_to) {
    BaseSource s;
    fs::path as_path(value);
    if (as_path.is_relative()) {
        as_path = relative_to / as_path;
    }
    std::error_code ec;
    if (looks_like_recipe(value) || fs::is_regular_file(as_path, ec)) {
        s.kind = Kind::recipe;
        s.recipe = as_path.lexically_normal();
        return s;
    }
    std::string why;
    s.reference = ImageRef::try_parse(value, &why);
    if (!s.reference) {
        throw bad_input(
            fmt::format("`{}` is neither a base recipe nor an image reference: {}", value, why),
            "name a recipe file (RECIPE.yaml, see base-images/), a local image (envpack images) "
            "or a registry reference (HOST/NAME:TAG)");
    }
    return s;
}

std::string BaseSource::to_string() const {
    return kind == Kind::recipe ? recipe.string() : reference->to_string();
}

EnsuredBase ensure_base(Store& store, const BaseSource& source, const BaseContext& context,
                        Log& log) {
    EnsuredBase out;
    if (source.kind == BaseSource::Kind::recipe) {
        if (!fs::exists(source.recipe)) {
            throw bad_input(fmt::format("base recipe `{}` does not exist", source.recipe.string()),
                            "give the path of a recipe (see base-images/) or an image reference");
        }
        BaseBuildOptions o;
        o.recipe = source.recipe;
        o.home = context.home;
        o.source_date_epoch = context.source_date_epoch;
        o.mmdebstrap = context.mmdebstrap;
        BaseBuildResult r = build_base_image(store, o, log);
        out.name = r.name;
        out.manifest = r.manifest;
        out.built = !r.cached;
        return out;
    }
    const ImageRef& ref = *source.reference;
    out.name = ref.store_name();
    auto desc = store.resolve(out.name);
    if (!desc && !ref.domain().empty()) {
        RegistryClient client(context.registry, log);
        client.pull(store, ref);
        desc = store.resolve(out.name);
        out.pulled = true;
    }
    if (!desc) {
        throw bad_input(fmt::format("the image `{}` is not in the local store `{}`", out.name,
                                    store.root().string()),
                        "build it (envpack base build RECIPE.yaml), import it (envpack import "
                        "ROOTFS -t NAME) or pull it (envpack pull REF)");
    }
    out.manifest = *desc;
    return out;
}

}  // namespace envpack
