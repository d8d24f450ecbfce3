#include "launcher/rootfs.h"

#include <sys/mount.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"

namespace envpack {

namespace fs = std::filesystem;

RootfsMode parse_rootfs_mode(std::string_view text) {
    if (text == "auto") {
        return RootfsMode::automatic;
    }
    if (text == "overlay") {
        return RootfsMode::overlay;
    }
    if (text == "copy") {
        return RootfsMode::copy;
    }
    throw bad_input(fmt::format("unknown rootfs mode `{}`", text),
                    "ENVPACK_ROOTFS is one of auto, overlay, copy");
}

std::string to_string(RootfsMode mode) {
    switch (mode) {
        case RootfsMode::automatic:
            return "auto";
        case RootfsMode::overlay:
            return "overlay";
        case RootfsMode::copy:
            return "copy";
    }
    return "auto";
}

namespace {

std::string escape_overlay_path(const fs::path& p) {
    std::string out;
    for (char c : p.string()) {
        if (c == '\\' || c == ',' || c == ':') {
            out += '\\';
        }
        out += c;
    }
    return out;
}

// cp -a keeps owners, modes, links, xattrs and hard links; reflinks where the filesystem can.
void copy_tree(const fs::path& from, const fs::path& to) {
    ProcessOptions options;
    auto r =
        run_process({"cp", "-a", "--reflink=auto", from.string() + "/.", to.string()}, options);
    if (!r.ok()) {
        throw Error(fmt::format("copy the image {} to {}: {}", from.string(), to.string(), r.err),
                    "", ExitCode::run_failed);
    }
}

}  // namespace

std::string overlay_mount_data(const fs::path& lower, const fs::path& upper, const fs::path& work) {
    return fmt::format("lowerdir={},upperdir={},workdir={}", escape_overlay_path(lower),
                       escape_overlay_path(upper), escape_overlay_path(work));
}

RunRootfs::RunRootfs(const fs::path& image_root, const fs::path& dir, RootfsMode mode)
    : m_dir(dir), m_root(dir / "rootfs") {
    if (const char* e = std::getenv("ENVPACK_ROOTFS"); e != nullptr && *e != '\0') {
        mode = parse_rootfs_mode(e);
    }
    make_dirs(m_root);
    if (mode != RootfsMode::copy) {
        make_dirs(dir / "upper");
        make_dirs(dir / "work");
        auto data = overlay_mount_data(image_root, dir / "upper", dir / "work");
        if (::mount("overlay", m_root.c_str(), "overlay", 0, data.c_str()) == 0) {
            m_mounted = true;
            m_mode = RootfsMode::overlay;
            return;
        }
        int err = errno;
        if (mode == RootfsMode::overlay) {
            throw Error(
                fmt::format("mount overlayfs at {}: {}", m_root.string(), std::strerror(err)),
                "overlayfs needs root and kernel support; ENVPACK_ROOTFS=copy copies "
                "the image instead",
                ExitCode::run_failed);
        }
        std::error_code ec;
        fs::remove_all(dir / "upper", ec);
        fs::remove_all(dir / "work", ec);
    }
    copy_tree(image_root, m_root);
    m_mode = RootfsMode::copy;
}

RunRootfs::~RunRootfs() {
    try {
        release();
    } catch (...) {
        // Destructors do not throw; release() is called explicitly where errors matter.
    }
}

void RunRootfs::release() {
    if (m_released) {
        return;
    }
    m_released = true;
    if (m_mounted) {
        if (::umount2(m_root.c_str(), 0) != 0 && ::umount2(m_root.c_str(), MNT_DETACH) != 0) {
            throw_errno("umount", m_root.string(), errno);
        }
        m_mounted = false;
    }
    std::error_code ec;
    fs::remove_all(m_root, ec);
    fs::remove_all(m_dir / "upper", ec);
    fs::remove_all(m_dir / "work", ec);
}

}  // namespace envpack
