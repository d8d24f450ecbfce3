// Images unpacked for running, once per manifest digest, shared by every later run:
//
//   $ENVPACK_HOME/unpacked/<manifest hex>/rootfs      the root filesystem (complete, read-only use)
//   $ENVPACK_HOME/unpacked/<manifest hex>.lock        flock: exclusive while unpacking, shared
//                                                     while a caller uses the tree (a "pin")
//   $ENVPACK_HOME/unpacked/.tmp-<manifest hex>-XXXXXX an unpack in progress (or killed)
//
// A tree is unpacked into a temp directory and renamed into place when complete, so
// `unpacked/<hex>` exists only for a complete, verified tree: a killed unpack leaves only a
// `.tmp-*` directory (removed by the next unpack of that image or by gc). A second process asking
// for the same image waits on the lock for the first and then reuses its tree.
#pragma once

#include <cstdint>
#include <filesystem>

#include "builder/unpack.h"
#include "core/digest.h"
#include "core/log.h"
#include "registry/image.h"
#include "registry/store.h"

namespace envpack {

// A complete unpacked tree, pinned (a shared flock) for as long as this object lives: gc leaves a
// pinned tree alone even when no image refers to it any more. Move-only.
class UnpackedImage {
  public:
    UnpackedImage(Digest manifest, std::filesystem::path root, int pin_fd, bool reused,
                  UnpackStats stats);
    ~UnpackedImage();
    UnpackedImage(UnpackedImage&& other) noexcept;
    UnpackedImage& operator=(UnpackedImage&&) = delete;
    UnpackedImage(const UnpackedImage&) = delete;

    const Digest& manifest() const { return m_manifest; }
    // $ENVPACK_HOME/unpacked/<hex>/rootfs: use it read-only (an overlay lowerdir); a run writes
    // into its own upper layer.
    std::filesystem::path rootfs() const { return m_root / "rootfs"; }
    // false: this call unpacked it; true: an earlier one did.
    bool reused() const { return m_reused; }
    // What this call unpacked (zero when reused).
    const UnpackStats& stats() const { return m_stats; }

  private:
    Digest m_manifest;
    std::filesystem::path m_root;
    int m_pin = -1;
    bool m_reused = false;
    UnpackStats m_stats;
};

// The entry the launcher calls: the unpacked root filesystem of the image whose manifest is
// `manifest` (a descriptor from Store::resolve), unpacking it first if no complete tree exists.
// Blocks while another process unpacks the same image. Throws Error as unpack_image does (a damaged
// or hostile layer, a digest mismatch, a full disk); then nothing under `home/unpacked` looks
// unpacked for that image.
UnpackedImage ensure_unpacked(const Store& store, const Descriptor& manifest,
                              const std::filesystem::path& home, Log& log,
                              const UnpackOptions& options = {});

// The directory holding unpacked trees: `home/unpacked`.
std::filesystem::path unpacked_dir(const std::filesystem::path& home);

struct UnpackGcResult {
    std::uint64_t removed = 0;  // trees and leftovers of killed unpacks
    std::uint64_t kept = 0;     // trees an image in the store refers to
    std::uint64_t pinned = 0;   // unreferenced but in use (or being unpacked): left alone
};

// Removes unpacked trees no image in `store` refers to (by manifest digest, nested indexes
// included) and the temp directories of killed unpacks, skipping any that is pinned or being
// unpacked right now.
UnpackGcResult gc_unpacked(const Store& store, const std::filesystem::path& home, Log& log);

}  // namespace envpack
