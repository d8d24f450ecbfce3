#include "registry/build_cache.h"

#include <fmt/format.h>

#include "core/error.h"

namespace envpack {

ImageRef build_cache_ref(const ImageRef& repository, std::string_view build_key) {
    const std::string repo = repository.domain().empty()
                                 ? repository.path()
                                 : repository.domain() + "/" + repository.path();
    return ImageRef::parse(repo + ":envpack-" + std::string(build_key.substr(0, 32)));
}

RegistryBuildCache::RegistryBuildCache(ImageRef repository, RegistryOptions options, Log& log)
    : m_repository(std::move(repository)), m_options(std::move(options)), m_log(log) {}

bool RegistryBuildCache::fetch(Store& store, const std::string& build_key,
                               const std::string& name) {
    const ImageRef cached = build_cache_ref(m_repository, build_key);
    try {
        RegistryClient client(m_options, m_log);
        if (!client.resolve(cached)) {
            return false;
        }
        PullResult pulled = client.pull(store, cached);
        store.tag(name, store.resolve_or_throw(pulled.stored_name));
        return true;
    } catch (const Error& e) {
        m_log.warnf("build cache at {}: {} (building instead)", cached.to_string(), e.what());
        return false;
    }
}

void RegistryBuildCache::publish(Store& store, const std::string& name,
                                 const std::string& build_key) {
    const ImageRef cached = build_cache_ref(m_repository, build_key);
    try {
        // The blobs are there after the push of the image itself: HEADs and one manifest PUT.
        RegistryClient client(m_options, m_log);
        client.push(store, name, cached);
    } catch (const Error& e) {
        m_log.warnf("build cache at {}: {} (the image itself was pushed)", cached.to_string(),
                    e.what());
    }
}

}  // namespace envpack
