// The base lock: the exact Debian packages a base image was built from (name, version,
// architecture, .deb file name, size and sha256, and whether apt marked it automatically
// installed), and the recipe's Debian key it was resolved for. Written beside the recipe
// (RECIPE.lock) as canonical JSON; a rebuild with a fresh lock installs exactly these .debs from
// $ENVPACK_HOME/base/debs (offline) instead of resolving against the archive.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"

namespace envpack {

struct LockedDeb {
    std::string name;
    std::string version;
    std::string architecture;
    std::string filename;  // the .deb's file name in the package cache
    std::uint64_t size = 0;
    std::string sha256;      // hex
    bool automatic = false;  // apt's Auto-Installed mark
    bool operator==(const LockedDeb&) const = default;
};

struct BaseLock {
    int version = 1;
    std::string debian_key;  // BaseRecipe::debian_key() it was resolved for ("sha256:...")
    std::string suite;
    std::string architecture;
    std::vector<LockedDeb> packages;  // sorted by name
    bool operator==(const BaseLock&) const = default;

    // Canonical JSON (2-space indent, keys sorted, trailing newline); parse(to_json()) == *this.
    std::string to_json() const;
    // Throws a bad-input Error naming `where` when the text is not a base lock.
    static BaseLock parse(std::string_view text, std::string_view where);

    const LockedDeb* find(std::string_view name) const;
    // Hash over every package's name, version, architecture and sha256 (the Debian content).
    Digest content_digest() const;
};

// One installed package from dpkg's status file.
struct InstalledPackage {
    std::string name;
    std::string version;
    std::string architecture;
    bool operator==(const InstalledPackage&) const = default;
};

// The packages whose Status is "install ok installed", sorted by name.
std::vector<InstalledPackage> parse_dpkg_status(std::string_view status);

// Package names apt's extended_states marks `Auto-Installed: 1`.
std::set<std::string> parse_extended_states(std::string_view text);

// apt's extended_states for the lock's automatic packages, in a fixed order (by name), so two
// installs of the same packages write the same bytes however apt ordered them.
std::string render_extended_states(const BaseLock& lock);

// The `.deb` file name apt gives a package: name_version_arch.deb with the epoch colon as %3a.
std::string deb_filename(const InstalledPackage& p);

// The upstream part of a Debian version: "2.36-9+deb12u4" -> "2.36", "1:2.3-1" -> "2.3".
std::string debian_upstream_version(std::string_view version);

}  // namespace envpack
