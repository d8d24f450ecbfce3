// A registry repository as a second-level build cache, as Azure ML keys environment images in its
// registry by the environment's hash: an image built with build key K and pushed to REPO:TAG is
// also tagged REPO:envpack-<first 32 hex digits of K> (`build_cache_ref`, the one place that
// scheme lives). Another machine asking for the same environment and push target finds it there.
//
// RemoteBuildCache is the interface the builder calls; failures of a remote cache degrade to a
// miss with a warning, never a failed build. RegistryBuildCache implements it with
// RegistryClient.
#pragma once

#include <string>
#include <string_view>

#include "core/log.h"
#include "registry/client.h"
#include "registry/reference.h"
#include "registry/store.h"

namespace envpack {

// `repository` with its tag replaced by `envpack-<key[:32]>`.
ImageRef build_cache_ref(const ImageRef& repository, std::string_view build_key);

class RemoteBuildCache {
  public:
    virtual ~RemoteBuildCache() = default;
    // After a local miss: puts the image with `build_key` into `store` under `name` and returns
    // true, or returns false (also when the cache cannot be reached).
    virtual bool fetch(Store& store, const std::string& build_key, const std::string& name) = 0;
    // After a build: records the store's image `name` under `build_key`. Failures are warnings.
    virtual void publish(Store& store, const std::string& name, const std::string& build_key) = 0;
};

class RegistryBuildCache : public RemoteBuildCache {
  public:
    // `repository`: the push target (its tag is ignored).
    RegistryBuildCache(ImageRef repository, RegistryOptions options, Log& log);
    bool fetch(Store& store, const std::string& build_key, const std::string& name) override;
    void publish(Store& store, const std::string& name, const std::string& build_key) override;

  private:
    ImageRef m_repository;
    RegistryOptions m_options;
    Log& m_log;
};

}  // namespace envpack
