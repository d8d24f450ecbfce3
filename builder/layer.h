// Deterministic layer tars, compressed and hashed in one pass.
//
// Entries are written sorted bytewise by path with every parent directory first (synthesised when
// missing), uid/gid 0 and no user/group names, mtime = min(mtime, SOURCE_DATE_EPOCH) or 0 when
// `source_date_epoch` is unset, no atime/ctime, ustar headers with PAX records only for what
// ustar cannot hold (long names or link targets, sizes >= 8 GiB). Hard links point at the first
// path (in sorted order) of their inode. The tar is hashed (diff_id) as it is produced, compressed
// (core/compress.h) and the compressed bytes hashed (digest) — nothing is read twice.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/compress.h"
#include "core/digest.h"
#include "core/fs.h"
#include "core/log.h"

namespace envpack {

enum class EntryType { file, directory, symlink, hardlink };

struct LayerEntry {
    std::string path;  // relative, '/'-separated, no leading "./" or "/", no trailing '/'
    EntryType type = EntryType::file;
    std::uint32_t mode = 0644;  // permission bits (07777)
    std::uint64_t size = 0;     // files: bytes to copy
    std::int64_t mtime = 0;
    std::string link_target;  // symlink target, or hard link: the path of the first link
    // Where a file's bytes come from: a file on disk, or `data` when `source` is empty.
    std::filesystem::path source;
    std::string data;
    // For detection of files that change while they are read (snapshots): when set, the file's
    // size and mtime (ns) must still match after it is read, else write_layer throws.
    std::optional<std::int64_t> expect_mtime_ns;
};

struct LayerOptions {
    Compression compression = Compression::gzip;
    unsigned threads = 0;  // compressor threads; 0 = default_thread_count()
    // Clamp for mtimes; unset: every mtime is 0.
    std::optional<std::int64_t> source_date_epoch;
    // Called with the number of content bytes just read (for progress bars); may be empty.
    std::function<void(std::uint64_t)> on_progress;
};

struct LayerResult {
    Digest diff_id;          // sha256 of the uncompressed tar
    Digest digest;           // sha256 of the compressed blob
    std::uint64_t size = 0;  // compressed size
    std::uint64_t uncompressed_size = 0;
    std::string media_type;
    std::uint64_t files = 0;
};

// Writes the layer for `entries` (any order; sorted and completed with parents here) to `out`.
// Throws Error naming the path if a source file cannot be read or changed while being read.
LayerResult write_layer(std::vector<LayerEntry> entries, const LayerOptions& options, Sink& out);

struct ScanOptions {
    // What to do with sockets, fifos and device nodes (not representable portably): skip with a
    // warning (the default) — OCI allows char/block/fifo entries, but a rootfs import from a
    // running system usually holds /dev nodes that must not be baked into an image.
    bool warn_special = true;
};

// Walks a directory tree (not following symlinks) into layer entries, with hard links detected
// by (dev, inode). The root itself is not an entry. Throws Error naming unreadable paths.
std::vector<LayerEntry> scan_tree(const std::filesystem::path& root, Log& log,
                                  const ScanOptions& options = {});

// $SOURCE_DATE_EPOCH if set and valid (bad-input Error if set and malformed), else nullopt.
std::optional<std::int64_t> source_date_epoch_from_env();

}  // namespace envpack
