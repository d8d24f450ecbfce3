// The builder's cache keys, pure functions of values, each one Hasher salted with its schema:
//
// - build key ("envpack.build.v2"): platform, prefix, compressor (name, version, settings), max
//   layers, SOURCE_DATE_EPOCH, base manifest digest and name, the locked packages (portable URL,
//   sha256, md5) in lock order, the digest of the portable lock text (the image's label) and the
//   environment's variables. Equal keys promise bit-identical
//   images, so an image found by key is reused without reading a package.
// - package install key ("envpack.package-install.v2"): a package's hash and file name, its
//   portable URL (conda-meta records it), the prefix and, for noarch packages, the python X.Y.
// - layer key ("envpack.layer.v1"): the compressor, SOURCE_DATE_EPOCH and, per member package,
//   its install key and the paths dropped because a later package clobbers them.
//
// URLs are portable (resolver/lock.h `portable_url`): a local channel is named as the environment
// file writes it, so keys do not depend on where a checkout sits.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/digest.h"

namespace envpack {

struct KeyedPackage {
    std::string url;  // portable
    std::string sha256;
    std::string md5;
};

struct BuildKeyInputs {
    std::string platform;
    std::string prefix;
    std::string compressor;  // compressor_id(): name, library version, settings
    std::size_t max_layers = 0;
    std::optional<std::int64_t> source_date_epoch;
    std::optional<Digest> base_digest;   // none: no base
    std::string base_name;               // the base's store name, "" for none
    std::vector<KeyedPackage> packages;  // lock order
    std::string lock_digest;             // of portable_lock_text, "sha256:..."
    std::vector<std::pair<std::string, std::string>> variables;  // file order
};

// The build key, 64 hex digits.
std::string build_key(const BuildKeyInputs& inputs);

struct InstallKeyInputs {
    std::string sha256;  // or empty, then md5 is used
    std::string md5;
    std::string file_name;
    std::string url;  // portable
    std::string prefix;
    std::string python_version;  // "3.11" for noarch packages, "" otherwise
};

Digest package_install_key(const InstallKeyInputs& inputs);

struct LayerMember {
    Digest install_key;
    std::set<std::string> dropped;  // paths a later package clobbers
};

Digest layer_key(const std::string& compressor, std::optional<std::int64_t> source_date_epoch,
                 const std::vector<LayerMember>& members);

}  // namespace envpack
