// The package cache under $ENVPACK_HOME/pkgs: each package file downloaded once, checked against
// the lock's sha256 (or md5 when that is all there is), and extracted once into
// `pkgs/<file name without extension>/`, then reused by every build.
//
//   pkgs/<fn>                     the verified package file
//   pkgs/<stem>/                  its extracted contents (info/, payload)
//   pkgs/<stem>/.envpack-extracted  the hash the extraction came from (written last)
//   pkgs/<stem>.lock              flock held while a package is fetched or extracted
//
// URLs may be http(s):// (HttpClient, in parallel), file:// or plain local paths. Concurrent builds
// share the cache: each package is fetched and extracted under its own exclusive lock, into a temp
// directory renamed into place. A cached file whose hash no longer matches, or an extracted
// directory whose marker is missing or whose files (per info/paths.json) are missing or of the
// wrong size, is treated as corrupt: it is removed, fetched and extracted again, with a warning.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "core/log.h"

namespace envpack {

class HttpClient;

struct PackageSource {
    std::string name;               // for messages
    std::string url;                // http(s)://, file://, or a local path
    std::string sha256;             // hex; may be empty when md5 is given
    std::string md5;                // hex
    std::string file_name() const;  // the last component of url
};

struct PackageCacheOptions {
    std::filesystem::path root;  // $ENVPACK_HOME/pkgs
    unsigned parallel = 4;       // concurrent downloads/extractions
};

struct PackageCacheStats {
    unsigned downloaded = 0;  // files fetched
    unsigned extracted = 0;   // packages extracted
    unsigned reused = 0;      // packages found ready in the cache
    unsigned repaired = 0;    // corrupt cache entries fetched or extracted again
};

class PackageCache {
  public:
    // `http` may be null when every URL is local.
    PackageCache(PackageCacheOptions options, HttpClient* http, Log& log);

    // Makes every package ready; returns the extracted directories in the order given.
    // Throws Error naming the package on a hash mismatch, a missing file, or an unsafe archive;
    // the cache keeps nothing of a package that failed.
    std::vector<std::filesystem::path> ensure(const std::vector<PackageSource>& packages);
    // One package (used by ensure; public for tests).
    std::filesystem::path ensure_one(const PackageSource& package);

    const PackageCacheStats& stats() const { return m_stats; }

  private:
    void fetch_file(const PackageSource& package, const std::filesystem::path& target);
    bool file_matches(const PackageSource& package, const std::filesystem::path& file) const;

    PackageCacheOptions m_options;
    HttpClient* m_http;
    Log& m_log;
    PackageCacheStats m_stats;
    std::mutex m_stats_mutex;
};

// The hex sha256 / md5 of a file's contents. Throws Error naming the path.
std::string file_sha256_hex(const std::filesystem::path& path);
std::string file_md5_hex(const std::filesystem::path& path);

// Checks an extracted package directory against its info/paths.json (files present, sizes equal).
// Returns a description of the first problem, or "" when it looks intact.
std::string check_extracted(const std::filesystem::path& dir);

}  // namespace envpack
