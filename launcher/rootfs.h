// A run's writable root filesystem over an unpacked image: an overlayfs mount whose lower layer is
// the shared, read-only unpack cache and whose upper layer belongs to the run, or, where overlayfs
// is missing (or not allowed), a private copy of the image. The unpacked image is never written.
// `RunRootfs` owns what it made: `release()` (or the destructor) unmounts and removes it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace envpack {

enum class RootfsMode { automatic, overlay, copy };

// "auto" | "overlay" | "copy"; bad-input Error otherwise.
RootfsMode parse_rootfs_mode(std::string_view text);
std::string to_string(RootfsMode mode);

// The overlayfs mount data for these directories, with `\`, `,` and `:` escaped as the kernel
// parses them. Pure.
std::string overlay_mount_data(const std::filesystem::path& lower,
                               const std::filesystem::path& upper,
                               const std::filesystem::path& work);

class RunRootfs {
  public:
    // Makes `dir/rootfs` (the root the container sees) from `image_root`, using `dir/upper` and
    // `dir/work` for overlayfs. `automatic` tries overlayfs and falls back to a copy;
    // $ENVPACK_ROOTFS (auto|overlay|copy) overrides it. Throws Error (exit 125) on failure.
    RunRootfs(const std::filesystem::path& image_root, const std::filesystem::path& dir,
              RootfsMode mode);
    ~RunRootfs();
    RunRootfs(const RunRootfs&) = delete;
    RunRootfs& operator=(const RunRootfs&) = delete;

    const std::filesystem::path& path() const { return m_root; }
    RootfsMode mode() const { return m_mode; }  // overlay or copy, as made
    // Unmounts (lazily if busy) and removes the writable layer. Idempotent.
    void release();

  private:
    std::filesystem::path m_dir;
    std::filesystem::path m_root;
    RootfsMode m_mode = RootfsMode::automatic;
    bool m_mounted = false;
    bool m_released = false;
};

}  // namespace envpack
