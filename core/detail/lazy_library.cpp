#include "core/detail/lazy_library.h"

#include <dlfcn.h>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack::detail {

void* open_library(const char* soname, const char* install_hint) {
    void* library = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        const char* why = ::dlerror();
        throw Error(fmt::format("cannot load {}: {}", soname, why != nullptr ? why : "unknown"),
                    install_hint);
    }
    return library;
}

void* library_function(void* library, const char* soname, const char* name) {
    void* fn = ::dlsym(library, name);
    if (fn == nullptr) {
        throw Error(fmt::format("{} has no function `{}`", soname, name),
                    fmt::format("install a newer {}", soname));
    }
    return fn;
}

}  // namespace envpack::detail
