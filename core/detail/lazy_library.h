// Shared libraries opened on first use (dlopen) instead of linked: libcurl and libarchive bring
// in a few dozen more (GnuTLS, Kerberos, LDAP; libxml2, ICU, nettle) that every envpack process
// would map at start, while most commands (a local lock or build, `run`, the node agent) never use
// them. Measured on `envpack --help` (perf stat, 30-40 runs): 27.2 ms with both linked, 12.4 ms
// with libcurl opened lazily, 11.6 ms with libarchive too. A caller keeps one struct of function
// pointers (decltype of the header's declarations), filled once.
#pragma once

namespace envpack::detail {

// Opens `soname` for good (RTLD_NOW | RTLD_LOCAL). Throws an Error naming it, with
// `install_hint`, when it cannot be opened.
void* open_library(const char* soname, const char* install_hint);

// The function `name` of `library`. Throws an Error naming both when it is missing (too old a
// library).
void* library_function(void* library, const char* soname, const char* name);

template <class F>
void load_function(void* library, const char* soname, F& fn, const char* name) {
    fn = reinterpret_cast<F>(library_function(library, soname, name));
}

}  // namespace envpack::detail
