#include "builder/build_key.h"

#include "core/hasher.h"

namespace envpack {

std::string build_key(const BuildKeyInputs& in) {
    Hasher key("envpack.build.v2");
    key.add("platform", in.platform).add("prefix", in.prefix).add("compression", in.compressor);
    key.add("max_layers", static_cast<std::int64_t>(in.max_layers));
    key.add("sde", in.source_date_epoch.value_or(-1));
    key.add("base", in.base_digest ? in.base_digest->to_string() : std::string("none"));
    key.add("base_name", in.base_name);
    key.add("packages", static_cast<std::int64_t>(in.packages.size()));
    for (const auto& p : in.packages) {
        key.add("url", p.url).add("sha256", p.sha256).add("md5", p.md5);
    }
    key.add("lock", in.lock_digest);
    key.add("variables", static_cast<std::int64_t>(in.variables.size()));
    for (const auto& [k, v] : in.variables) {
        key.add("var", k).add("value", v);
    }
    return key.finish().hex();
}

Digest package_install_key(const InstallKeyInputs& in) {
    Hasher h("envpack.package-install.v2");
    h.add("hash", in.sha256.empty() ? "md5:" + in.md5 : in.sha256).add("fn", in.file_name);
    h.add("url", in.url).add("prefix", in.prefix).add("python", in.python_version);
    return h.finish();
}

Digest layer_key(const std::string& compressor, std::optional<std::int64_t> source_date_epoch,
                 const std::vector<LayerMember>& members) {
    Hasher lk("envpack.layer.v1");
    lk.add("compressor", compressor).add("sde", source_date_epoch.value_or(-1));
    for (const auto& m : members) {
        lk.add("package", m.install_key);
        for (const auto& d : m.dropped) {
            lk.add("dropped", d);
        }
    }
    return lk.finish();
}

}  // namespace envpack
