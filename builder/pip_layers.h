// The pip packages of a lock (`manager: pip`, resolver/pip_lock.h) installed for an image: each
// wheel fetched once into `$ENVPACK_HOME/pip/wheels/<sha256>/` and checked against the lock's
// sha256, then installed as pip would (builder/wheel_install.h) into the image's prefix —
// shebangs name PREFIX/bin/python, the environment's own python — in parallel, as layer entries
// rather than files on disk: the image builder writes them into their own layers above the conda
// layers straight from the wheels (wheel_install::layer_files), so nothing is written twice and
// a wheel's deflated files are not compressed again.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "builder/layer.h"
#include "core/digest.h"

namespace envpack {

class HttpClient;
struct EnvSpec;
struct LockedPackage;

struct PipInstallOptions {
    std::string prefix = "/opt/conda";  // in the image
    unsigned python_major = 3;
    unsigned python_minor = 11;
    std::filesystem::path home;       // $ENVPACK_HOME
    std::set<std::string> requested;  // normalised names the list asked for (REQUESTED)
    std::map<std::string, std::string> direct_urls;  // `name @ URL` requirements: name -> URL
    unsigned parallel = 4;
};

struct PipInstalled {
    const LockedPackage* locked = nullptr;
    Digest install_key;
    std::vector<LayerEntry> entries;  // the installed files, paths under the prefix (opt/conda/...)
    // Entries whose RECORD check is still to run (their `verify`), and how many have passed.
    std::size_t to_check = 0;
    std::shared_ptr<std::atomic<std::size_t>> checked;
};

// The key of one installed wheel for the layer cache (sha256, file name, prefix, python,
// REQUESTED, direct URL, installer schema).
Digest pip_install_key(const LockedPackage& package, const PipInstallOptions& options);

// Fetches and plans every package (in the lock's order). Throws Error: protocol for a wheel
// whose bytes differ from the lock's sha256, bad input for a malformed wheel, network/HTTP
// errors; a member that does not match RECORD is refused when its layer is written.
std::vector<PipInstalled> install_pip_packages(const std::vector<const LockedPackage*>& packages,
                                               const PipInstallOptions& options, HttpClient* http);

// A wheel all of whose copied members passed their RECORD check (every layer holding them was
// written) is remembered by its sha256 under `$ENVPACK_HOME/pip/record-checked/`, and later builds
// do not hash its files again for RECORD: the marker names the exact bytes, which fetch_wheel
// checks (a local file on every build, a download once), and every read still checks the zip's
// CRC-32. install_pip_packages leaves out the checks of remembered wheels.
void remember_record_checks(const std::vector<PipInstalled>& installed,
                            const PipInstallOptions& options);

// The names the environment's pip list requests, and its `name @ URL` requirements, for
// PipInstallOptions; empty when the list cannot be read (a frozen lock without its files).
void pip_requests_of(const EnvSpec& env, PipInstallOptions& options);

}  // namespace envpack
