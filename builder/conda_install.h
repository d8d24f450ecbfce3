// Installing an extracted conda package into a prefix, as conda does, but into layer entries
// instead of a live directory: the result is the list of files (paths relative to the image root,
// under the prefix) with prefix placeholders already replaced, plus its conda-meta record.
//
// - Files come from `info/paths.json`, or for old packages from `info/files` + `info/has_prefix`.
// - Text placeholders are replaced everywhere in the file; binary placeholders only inside
//   NUL-terminated strings, the string padded with NULs to its old length (conda's rule). A prefix
//   longer than a binary placeholder is refused (bad-input Error naming the package and file).
// - `noarch: python` packages: `site-packages/` goes to `lib/pythonX.Y/site-packages/`,
//   `python-scripts/` to `bin/`, and each entry point in `info/link.json` becomes a `bin/` script
//   run by `<prefix>/bin/python`.
// - A `softlink` in paths.json that the archive holds as an empty file or a link with no target
//   (conda's zlib test packages: empty files in the .tar.bz2, empty links in the .conda) is made a
//   link to the package's file with the same sha256; with no such file it is refused.
// - `conda-meta/<name>-<version>-<build>.json` holds index.json plus url, channel, hashes, files
//   and paths_data; it contains nothing that depends on the build machine (no cache paths, no
//   time).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "builder/layer.h"

namespace envpack {

struct InstallOptions {
    std::string prefix = "/opt/conda";  // absolute, no trailing '/'
    std::string python_version;         // "3.11": for noarch: python packages; empty if no python
};

// What the lock says about a package (the parts conda-meta records).
struct PackageOrigin {
    std::string url;
    std::string channel;  // the channel URL (url without /subdir/fn)
    std::string sha256;
    std::string md5;
};

struct InstalledPackage {
    std::string name, version, build;
    std::int64_t build_number = 0;
    std::string license, subdir, noarch, channel;
    std::string file_name;             // "zlib-1.2.11-h7b6447c_3.conda"
    std::vector<LayerEntry> entries;   // the payload; paths relative to "/" (under the prefix)
    std::vector<std::string> files;    // prefix-relative paths, sorted
    std::string meta_file;             // "conda-meta/NAME-VERSION-BUILD.json" (prefix-relative)
    std::string meta_json;             // its contents
    std::uint64_t installed_size = 0;  // bytes of regular files

    std::string dist() const { return name + "-" + version + "-" + build; }
};

// Reads the extracted package `dir`. Throws Error (bad input for malformed metadata, unsafe paths,
// a binary placeholder shorter than the prefix, noarch: python without a python version).
InstalledPackage plan_package_install(const std::filesystem::path& dir, const PackageOrigin& origin,
                                      const InstallOptions& options);

// conda's binary prefix replacement on `data` in place: each NUL-terminated string that holds
// `placeholder` gets every occurrence replaced by `prefix` and is padded with NULs to its old
// length. Returns the number of replacements. Throws if `prefix` is longer than `placeholder`.
size_t replace_binary_prefix(std::string& data, std::string_view placeholder,
                             std::string_view prefix);
// Text replacement: every occurrence. Returns the number of replacements.
size_t replace_text_prefix(std::string& data, std::string_view placeholder,
                           std::string_view prefix);

// The script conda writes for a `noarch: python` entry point "name = module:function".
std::string entry_point_script(std::string_view python, std::string_view module,
                               std::string_view function);

// Paths that more than one package installs. The later package (in `packages` order) wins, as with
// conda; the earlier one's entry is dropped. Returns one line per clobbered path
// ("`bin/x`: b-1-0 clobbers a-1-0").
std::vector<std::string> resolve_clobbers(std::vector<InstalledPackage>& packages);

}  // namespace envpack
