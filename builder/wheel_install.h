// Installs one wheel into a prefix as pip's installer does (pip/_internal/operations/install/
// wheel.py, the scheme of `pip install --prefix P`), checked more strictly than pip, and atomic.
//
// Where files go: the wheel's root into `lib/pythonX.Y/site-packages` (purelib and platlib are
// the same directory in a conda prefix, so `Root-Is-Purelib` changes nothing on disk), and
// `NAME.data/KEY/...` into the scheme directory of KEY: `purelib`/`platlib` site-packages,
// `scripts` `bin`, `headers` `include/pythonX.Y/NAME` (NAME as in METADATA), `data` the prefix.
// `.data/scripts` files that start with `#!python` get the prefix's interpreter in their first
// line; console and GUI entry points become distlib's scripts in `bin` (pip, easy_install get
// pip's versioned names); `.data/scripts` files named as an entry point are left out (pip does
// the same). Modes: 0755 for files whose zip entry is executable and for generated scripts, 0644
// otherwise, 0755 directories (pip applies the umask; envpack writes fixed modes for
// reproducible layers). `.dist-info/INSTALLER` says `envpack` (pip writes `pip`), `REQUESTED`
// marks a top-level requirement, `direct_url.json` is written when given, and `RECORD` is
// rewritten as pip writes it: paths relative to site-packages, sha256 and size of every
// installed file (rehashed when changed), rows sorted, `\r\n` line ends.
//
// Refused before anything lands (bad-input Errors that name the wheel and the member): no single
// `.dist-info` directory for the wheel's project, missing METADATA, WHEEL or RECORD, a
// Wheel-Version other than 1.x, a member that would land outside its scheme directory (absolute,
// `..`), an unknown `.data` key, a member RECORD does not list or lists without a sha256 hash,
// a bad entry point. Every member's sha256 and size are checked against RECORD while it is
// written. Files go straight to their final paths when nothing is there (a file already there is
// written beside it and renamed over it only once the whole wheel passed); on any error every
// file and directory the install made is removed again (builder/detail/prefix_writer.h), so an
// error leaves the prefix as it was. Wheels with distinct files may be installed into one prefix
// side by side; two installs of files at the same paths must not run at the same time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "builder/layer.h"

namespace envpack::wheel_install {

enum class Requested : unsigned char { no, yes };

struct Options {
    std::filesystem::path prefix;  // absolute; created when missing
    unsigned python_major = 3;
    unsigned python_minor = 11;
    // The interpreter in shebangs; "" means PREFIX/bin/python (conda's python in the image).
    std::string interpreter;
    Requested requested = Requested::no;  // REQUESTED: named by the user, not a dependency
    std::string direct_url_json;          // PEP 610 direct_url.json; "" when not a direct URL
    std::string installer = "envpack";

    std::filesystem::path site_packages() const;  // PREFIX/lib/pythonX.Y/site-packages
    std::string shebang_interpreter() const;
};

struct Installed {
    std::string name;       // as METADATA says
    std::string version;    // as METADATA says
    std::string dist_info;  // "name-1.0.dist-info"
    // Every file written, relative to the prefix, '/'-separated, sorted.
    std::vector<std::string> files;
};

// Installs `wheel` (a .whl file). `project` is the name the wheel was chosen for (any spelling;
// "" to take it from the file name). Throws Error as above; the prefix is unchanged then.
Installed install_wheel(const std::filesystem::path& wheel, const Options& options,
                        const std::string& project = "");

// The same install as layer entries instead of files: paths under `options.prefix` (made
// relative: `opt/conda/lib/...`), nothing written. The wheel is checked as install_wheel checks
// it, except that the members copied as they are are checked against RECORD by each entry's
// `verify` when the layer reads them (write_layer then refuses the layer); their deflate streams
// go into a gzip layer without being compressed again. The entries keep the wheel open.
struct LayerFiles {
    Installed installed;
    std::vector<LayerEntry> entries;  // files only; write_layer adds their directories
};
LayerFiles layer_files(const std::filesystem::path& wheel, const Options& options,
                       const std::string& project = "");

}  // namespace envpack::wheel_install
