// `envpack pip install` as a library call: resolve a list of PEP 508 requirements against
// find-links directories/pages and simple indexes for a target image (its python, conda platform
// and glibc), then install the chosen wheels into a prefix (builder/wheel_install), the way
// `pip install --prefix P` (or `uv pip install --prefix`) does.
//
// Resolution is pip_resolve's backtracking over a pip_fetch::Finder; an unresolvable set comes
// back as a value (with the files that could not be used, e.g. source distributions, named).
// Installation: wheels are fetched (downloaded once into the cache, sha256 checked) and installed
// in parallel, each one atomically; the top-level requirements get REQUESTED. A failure in one
// wheel stops the others before they start; wheels already installed stay installed (as pip).
#pragma once

#include <chrono>
#include <expected>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "resolver/pep440.h"
#include "resolver/pip_fetch.h"
#include "resolver/pip_resolve.h"

namespace envpack {
class HttpClient;
}

namespace envpack::pip_install {

struct Request {
    std::vector<std::string> requirements;  // PEP 508, as the user wrote them
    std::filesystem::path prefix;           // absolute
    pep440::Version python;                 // the image's python (3.11 or 3.11.4)
    std::string platform = "linux-64";      // conda platform of the image
    std::string glibc = "2.17";             // the image's glibc (`__glibc`)
    std::vector<std::string> find_links;
    std::vector<std::string> indexes;  // empty: --no-index
    pep440::PreReleases pre = pep440::PreReleases::by_specifier;
    std::string interpreter;  // shebangs; "" = PREFIX/bin/python
    std::filesystem::path cache_dir;
    std::map<std::string, pep440::Version> installed;  // packages the conda solve installed
    unsigned threads = 0;                              // 0: default_thread_count()
};

struct Package {
    std::string name;  // normalised
    std::string version;
    std::string filename;
    std::string url;
    std::string sha256;              // of the wheel as installed
    std::vector<std::string> files;  // installed, relative to the prefix
};

struct Result {
    std::vector<Package> packages;  // in resolution order
    pip_fetch::Counters counters;
    std::chrono::milliseconds resolve_time{0};
    std::chrono::milliseconds install_time{0};
};

// Throws a bad-input Error (exit 2) for a requirement that does not parse (with a caret) or a
// direct URL requirement (not supported yet); Errors from fetching and installing propagate.
std::expected<Result, pip_resolve::Unresolvable> install(const Request& request, HttpClient* http);

}  // namespace envpack::pip_install
