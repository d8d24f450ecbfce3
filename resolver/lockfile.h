// Lock files: conda-lock's unified format (version 1) and conda's `@EXPLICIT` list.
//
// A LockFile records what a solve chose, per platform, so that a build can install exactly that
// without solving: for each package its name, version, manager (`conda`), platform, dependencies
// (name -> version spec, as conda-lock writes them), url, hash (md5, sha256), category (`main`)
// and optional (false). Its metadata holds the environment file's content hash per platform
// (env_content_hash), the channels, the platforms and the source files.
//
// `to_string` writes deterministic YAML (no time stamps; packages in solver install order,
// dependencies first). `parse` reads what `to_string` writes and conda-lock's own v1 files;
// `parse(to_string(x)) == x`. Malformed input throws a bad-input Error with file:line:column.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "resolver/env_file.h"
#include "resolver/package_record.h"

namespace envpack {

struct LockedPackage {
    std::string name;
    std::string version;
    std::string manager = "conda";
    std::string platform;
    std::vector<std::pair<std::string, std::string>> dependencies;  // name -> spec ("*" = any)
    std::string url;
    std::string md5;
    std::string sha256;
    std::string category = "main";
    bool optional = false;

    // From a solved record: dependencies are the record's `depends` split at the first space.
    static LockedPackage from_record(const PackageRecord& record, std::string_view platform);
    // The file name at the end of `url` ("numpy-1.26.4-py312h_0.conda").
    std::string file_name() const;
    // The build string, read from the file name (NAME-VERSION-BUILD.EXT); "" if not of that shape.
    std::string build() const;

    bool operator==(const LockedPackage&) const = default;
};

struct LockFile {
    int version = 1;
    std::map<std::string, std::string> content_hash;  // platform -> env_content_hash
    std::vector<std::string> channels;                // as written in the environment file
    std::vector<std::string> platforms;
    std::vector<std::string> sources;  // environment file names, as given
    // conda-lock's `metadata.custom_metadata` (string -> string); envpack keeps what a solve
    // depended on there (resolver/lock.h). Written only when not empty.
    std::map<std::string, std::string> custom_metadata;
    std::vector<LockedPackage> packages;

    static LockFile parse(std::string_view text, const std::filesystem::path& file_name);
    static LockFile load(const std::filesystem::path& path);
    std::string to_string() const;

    // conda's explicit format for one platform: header comments, `@EXPLICIT`, one `URL#<sha256>`
    // per conda package (`URL#<md5>` when a package has no sha256; conda reads both), then, as
    // conda-lock writes them, one `# pip NAME @ URL#sha256=<hex>` comment per pip package.
    // Throws bad-input Error if the platform is not in the lock.
    std::string to_explicit(std::string_view platform) const;

    // The packages locked for `platform`, in file order.
    std::vector<const LockedPackage*> packages_for(std::string_view platform) const;

    bool operator==(const LockFile&) const = default;
};

enum class LockState { fresh, stale, missing_platform };

// Compares the recorded content hash for `platform` with the one of `spec` now.
LockState lock_state(const LockFile& lock, const EnvSpec& spec, std::string_view platform);

}  // namespace envpack
