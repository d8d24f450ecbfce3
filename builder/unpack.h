// Unpacking an image from the local store into a directory (a container's root filesystem).
//
// Layers are applied in order. Each layer blob is read once: mapped, decompressed (gzip or zstd,
// sniffed from its first bytes) and hashed on a producer thread while the tar is applied on the
// calling thread; the blob's sha256 and size are checked when its last byte is read, and a
// mismatch is an Error (so the caller must treat `dest` as garbage: `ensure_unpacked` in
// unpack_cache.h unpacks into a temp dir and renames, which is what the launcher uses).
//
// What is kept, as `umoci unpack` keeps it: owners (when running as root; otherwise a warning
// once), modes with setuid/setgid/sticky (applied after the owner), hard links, symbolic links
// (never followed out of `dest`: every directory is opened with openat2 RESOLVE_IN_ROOT), xattrs
// (`security.capability`, `user.*`, ...: a filesystem that refuses them gets one warning), mtimes;
// directory modes and times are applied last, deepest first. OCI whiteouts (`.wh.NAME`) and opaque
// directories (`.wh..wh..opq`) remove lower-layer content. Device nodes and fifos are skipped
// with a note. Entries with absolute paths or `..`, and hard links out of the tree, are refused
// with an Error naming the entry.
//
// Blobs are read under the store's shared writer lock, so `Store::gc` never deletes them
// mid-unpack.
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/log.h"
#include "registry/image.h"
#include "registry/store.h"

namespace envpack {

struct UnpackStats {
    std::uint64_t layers = 0;
    std::uint64_t entries = 0;
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;  // file content written
    std::uint64_t whiteouts = 0;
    std::uint64_t skipped = 0;  // device nodes, fifos and other special entries
};

struct UnpackOptions {
    // Decompressed bytes held between the reading thread and the writing thread.
    std::size_t max_buffered = 64 << 20;
    // Label of the progress bar (stderr, terminals only); empty: no bar.
    std::string progress_label;
};

// Unpacks `manifest`'s layers into `dest`, which is created when missing and must otherwise be an
// empty directory (bad-input Error if not). Throws Error (naming the layer and entry) on a
// damaged or hostile layer, a digest mismatch, or an I/O failure such as a full disk; what was
// written until then stays in `dest` for the caller to remove.
UnpackStats unpack_image(const Store& store, const Manifest& manifest,
                         const std::filesystem::path& dest, Log& log,
                         const UnpackOptions& options = {});

}  // namespace envpack
