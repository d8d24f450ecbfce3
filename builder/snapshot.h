// Source snapshots: the files of a source directory that its ignore files let through, with a
// content digest, size limits, and a deterministic layer. The launcher (job `code:`) and the image
// builder (`build --source`) call this; `envpack snapshot` is its command line.
//
// Rules (DESIGN.md, "Snapshots"): in every directory `.amlignore` if present, else `.gitignore`
// (one file per directory, never merged), with git's semantics (builder/ignore.h); nothing below
// an excluded directory is looked at; entries named `.git` are always left out. Symbolic links are
// entries of their own and never followed. Sockets, fifos and devices are skipped with a warning.
// Directories are entries too (an empty directory survives), but they are not counted as files.
//
// Failures: the root missing or not a directory is bad input (exit 2); a directory or file that
// cannot be read, or an ignore file that cannot be read, is an Error naming the path (exit 1); a
// file whose size or mtime changes while it is hashed is an Error naming it (exit 1); exceeding a
// limit is bad input naming the limit, the total, and the largest files and directories (exit 2).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/layer.h"
#include "core/digest.h"
#include "core/log.h"

namespace envpack {

// Azure ML's limits: 300 MiB and 2,000 files.
inline constexpr std::uint64_t k_snapshot_default_max_bytes = 300ull * 1024 * 1024;
inline constexpr std::uint64_t k_snapshot_default_max_files = 2000;
// Ignore files larger than this are refused (newer git ignores them silently: not safe here).
inline constexpr std::uint64_t k_snapshot_max_ignore_file_bytes = 100ull * 1024 * 1024;

struct SnapshotOptions {
    std::uint64_t max_bytes = k_snapshot_default_max_bytes;  // sum of file sizes; 0: no limit
    std::uint64_t max_files = k_snapshot_default_max_files;  // files + symlinks; 0: no limit
    unsigned threads = 0;                                    // 0: default_thread_count()
};

enum class SnapshotEntryType { file, symlink, directory };

struct SnapshotEntry {
    std::string path;  // relative to the root, '/'-separated, the name's bytes as on disk
    SnapshotEntryType type = SnapshotEntryType::file;
    bool executable = false;    // files: any execute bit set
    std::uint64_t size = 0;     // files
    std::int64_t mtime_ns = 0;  // files, as seen by the walk
    std::string link_target;    // symlinks (read, never followed)
    Digest content;             // files, once hashed (make_snapshot)
};

enum class WalkDetail {
    names,  // paths and types only, from readdir (what `--list` needs): no stat, no readlink
    full,   // plus sizes, modes, mtimes and link targets
};

struct SnapshotListing {
    std::filesystem::path root;
    // Sorted bytewise by path, a directory's path taken with a trailing '/' (so it comes right
    // before what it holds, and the files and symlinks alone are in plain bytewise order).
    std::vector<SnapshotEntry> entries;
    std::uint64_t files = 0;  // regular files and symlinks
    std::uint64_t bytes = 0;  // sum of regular file sizes (WalkDetail::full)
};

// Walks `root` applying the ignore rules. Throws as described above; does not check limits.
SnapshotListing walk_snapshot(const std::filesystem::path& root, Log& log,
                              const SnapshotOptions& options, WalkDetail detail);

// The same walk with WalkDetail::names, streaming the paths of the included files and symlinks
// in bytewise order instead of building a listing (what `envpack snapshot --list` prints).
void list_snapshot_paths(const std::filesystem::path& root, Log& log,
                         const SnapshotOptions& options,
                         const std::function<void(std::string_view path)>& emit);

// Throws bad_input when `listing` (a full walk) exceeds a limit of `options`.
void check_snapshot_limits(const SnapshotListing& listing, const SnapshotOptions& options);

struct Snapshot {
    SnapshotListing listing;
    Digest digest;  // depends only on paths, types, executable bits, link targets and contents
};

// Full walk, limit check, and hashing of every file's contents (in parallel).
Snapshot make_snapshot(const std::filesystem::path& root, Log& log, const SnapshotOptions& options);

// The digest over a hashed listing (schema "envpack.snapshot.v1").
Digest snapshot_digest(const SnapshotListing& listing);

// The layer entries of a snapshot: files (read from disk, checked for changes), symlinks and
// directories; modes are normalised to 0755/0644 so only the executable bit is kept.
std::vector<LayerEntry> snapshot_layer_entries(const Snapshot& snapshot);

// Writes the snapshot's layer to `out` (write_layer buffers the many small pieces it emits:
// headers, paddings, small files). Throws like write_layer.
LayerResult write_snapshot_layer(const Snapshot& snapshot, const LayerOptions& options, Sink& out);

// make_snapshot and write_snapshot_layer in one go: the files are hashed on worker threads while
// the layer is written, so each file is read about once from disk. Returns the layer's result.
LayerResult make_snapshot_layer(const std::filesystem::path& root, Log& log,
                                const SnapshotOptions& options, const LayerOptions& layer_options,
                                Sink& out, Snapshot& snapshot);

// The `n` largest files, biggest first (ties by path).
std::vector<const SnapshotEntry*> largest_files(const SnapshotListing& listing, size_t n);

}  // namespace envpack
