// `envpack import`: a one-layer image from a root filesystem (a directory or a tar file, in any
// compression libarchive reads), written to the local store and tagged.
//
// The result depends only on the tree's paths, types, modes (setuid/setgid/sticky included), link
// targets, contents, owners and xattrs (and mtimes when SOURCE_DATE_EPOCH is set): a root
// filesystem keeps its numeric owners, with user/group names from its own etc/passwd and
// etc/group (for a tar too: the names it records are ignored), and its `user.*` and `security.*`
// xattrs (PAX SCHILY.xattr records) — see `Owners` in layer.h. Sockets/fifos/device nodes are
// skipped with a warning, and the config's `created` is the epoch (or SOURCE_DATE_EPOCH), so
// importing the same tree anywhere gives the same manifest digest.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "builder/layer.h"
#include "core/log.h"
#include "registry/image.h"
#include "registry/store.h"

namespace envpack {

struct ImportOptions {
    Compression compression = Compression::gzip;
    unsigned threads = 0;                           // 0: default
    Platform platform;                              // linux/amd64
    std::optional<std::int64_t> source_date_epoch;  // from the environment by the CLI
    Owners owners = Owners::keep;                   // root: 0:0, no names, no xattrs
};

struct ImportResult {
    std::string name;
    Descriptor manifest;
    LayerResult layer;
};

// Throws Error (bad input: missing source, not a directory or archive, unsafe tar paths).
ImportResult import_rootfs(Store& store, const std::filesystem::path& source,
                           const std::string& name, const ImportOptions& options, Log& log);

// Writes `entries` as one layer blob into `store`, with progress on `log` under `label` counted in
// bytes of regular files — the step `import` and `base build` share. Throws what write_layer and
// the store throw; nothing is committed on failure.
LayerResult write_tree_layer(Store& store, std::vector<LayerEntry> entries, LayerOptions options,
                             const std::string& label, Log& log);

// RFC 3339 UTC for seconds since the epoch ("1970-01-01T00:00:00Z").
std::string rfc3339(std::int64_t seconds);

}  // namespace envpack
