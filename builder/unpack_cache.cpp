#include "builder/unpack_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace envpack {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_tmp_prefix = ".tmp-";
constexpr std::string_view k_lock_suffix = ".lock";

int open_lock(const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw_errno("open lock", path.string(), errno);
    }
    return fd;
}

void lock(int fd, int op, const fs::path& path) {
    while (::flock(fd, op) != 0) {
        if (errno != EINTR) {
            throw_errno("lock", path.string(), errno);
        }
    }
}

bool try_lock_exclusive(int fd) {
    return ::flock(fd, LOCK_EX | LOCK_NB) == 0;
}

using LockFd = UniqueFd;

bool is_complete(const fs::path& tree) {
    struct stat st {};
    return ::lstat((tree / "rootfs").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_digest_hex(std::string_view name) {
    if (name.size() != 64) {
        return false;
    }
    for (char c : name) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

// Removes a tree that may hold directories without write or search permission (an image's
// 0555 directories, when not root).
void remove_tree(const fs::path& path) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (!ec) {
        return;
    }
    ::chmod(path.c_str(), 0700);
    for (auto it = fs::recursive_directory_iterator(path, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) {
            ::chmod(it->path().c_str(), 0700);
        }
    }
    ec.clear();
    fs::remove_all(path, ec);
    if (ec) {
        throw Error(fmt::format("remove `{}`: {}", path.string(), ec.message()));
    }
}

std::set<std::string> referenced_manifests(const Store& store) {
    std::set<std::string> hexes;
    for (const auto& image : store.list()) {
        hexes.insert(image.manifest.digest.hex());
        const auto& mt = image.manifest.media_type;
        if (mt != media_type::k_oci_index && mt != media_type::k_docker_manifest_list) {
            continue;
        }
        auto index = nlohmann::json::parse(store.read_blob(image.manifest.digest), nullptr, false);
        if (!index.is_object() || !index["manifests"].is_array()) {
            continue;
        }
        for (const auto& m : index["manifests"]) {
            if (m.is_object() && m["digest"].is_string()) {
                if (auto d = Digest::parse(m["digest"].get<std::string>())) {
                    hexes.insert(d->hex());
                }
            }
        }
    }
    return hexes;
}

}  // namespace

UnpackedImage::UnpackedImage(Digest manifest, fs::path root, int pin_fd, bool reused,
                             UnpackStats stats)
    : m_manifest(std::move(manifest)),
      m_root(std::move(root)),
      m_pin(pin_fd),
      m_reused(reused),
      m_stats(stats) {}

UnpackedImage::~UnpackedImage() {
    if (m_pin >= 0) {
        ::close(m_pin);
    }
}

UnpackedImage::UnpackedImage(UnpackedImage&& other) noexcept
    : m_manifest(std::move(other.m_manifest)),
      m_root(std::move(other.m_root)),
      m_pin(other.m_pin),
      m_reused(other.m_reused),
      m_stats(other.m_stats) {
    other.m_pin = -1;
}

fs::path unpacked_dir(const fs::path& home) {
    return home / "unpacked";
}

UnpackedImage ensure_unpacked(const Store& store, const Descriptor& manifest, const fs::path& home,
                              Log& log, const UnpackOptions& options) {
    const std::string hex = manifest.digest.hex();
    const fs::path dir = unpacked_dir(home);
    make_dirs(dir);
    const fs::path tree = dir / hex;
    const fs::path lock_path = dir / (hex + std::string(k_lock_suffix));
    LockFd fd(open_lock(lock_path));

    lock(fd.get(), LOCK_SH, lock_path);
    if (is_complete(tree)) {
        return UnpackedImage(manifest.digest, tree, fd.release(), true, {});
    }
    // Not there: become the one that unpacks it (or wait for the one that does).
    lock(fd.get(), LOCK_EX, lock_path);
    if (is_complete(tree)) {
        lock(fd.get(), LOCK_SH, lock_path);
        return UnpackedImage(manifest.digest, tree, fd.release(), true, {});
    }
    // Leftovers of a killed unpack of this image (only a holder of this lock writes them).
    std::error_code ec;
    std::string stale_prefix = std::string(k_tmp_prefix) + hex + "-";
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().filename().string().starts_with(stale_prefix)) {
            remove_tree(entry.path());
        }
    }
    if (fs::exists(tree, ec)) {
        remove_tree(tree);  // an incomplete tree (no rootfs): never renamed into place by us
    }

    Manifest m = store.read_manifest(manifest);
    std::string templ = (dir / (stale_prefix + "XXXXXX")).string();
    if (::mkdtemp(templ.data()) == nullptr) {
        throw_errno("create a temporary directory in", dir.string(), errno);
    }
    fs::path tmp = templ;
    UnpackStats stats;
    bool reused = false;
    try {
        UnpackOptions o = options;
        if (o.progress_label.empty()) {
            o.progress_label = fmt::format("unpack {}", manifest.digest.to_string().substr(0, 19));
        }
        stats = unpack_image(store, m, tmp / "rootfs", log, o);
        if (::rename(tmp.c_str(), tree.c_str()) != 0) {
            if (errno != EEXIST && errno != ENOTEMPTY) {
                throw_errno("rename into place", tree.string(), errno);
            }
            // Another process finished the same tree (after gc removed a lock file we held).
            remove_tree(tmp);
            reused = true;
        }
    } catch (...) {
        try {
            remove_tree(tmp);
        } catch (const Error& e) {
            log.warnf("could not remove the incomplete unpack {}: {}", tmp.string(), e.what());
        }
        throw;
    }
    lock(fd.get(), LOCK_SH, lock_path);
    return UnpackedImage(manifest.digest, tree, fd.release(), reused, stats);
}

UnpackGcResult gc_unpacked(const Store& store, const fs::path& home, Log& log) {
    UnpackGcResult result;
    const fs::path dir = unpacked_dir(home);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return result;
    }
    const std::set<std::string> live = referenced_manifests(store);
    std::vector<fs::path> entries;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        entries.push_back(entry.path());
    }
    for (const auto& path : entries) {
        std::string name = path.filename().string();
        std::string hex;
        bool temp = name.starts_with(k_tmp_prefix);
        bool lock_file = name.ends_with(k_lock_suffix);
        if (temp) {
            hex = name.substr(k_tmp_prefix.size(), 64);
        } else if (lock_file) {
            hex = name.substr(0, name.size() - k_lock_suffix.size());
        } else {
            hex = name;
        }
        if (!is_digest_hex(hex)) {
            continue;  // not ours
        }
        if (!temp && live.contains(hex)) {
            if (!lock_file) {
                ++result.kept;
            }
            continue;
        }
        if (lock_file && fs::exists(dir / hex, ec)) {
            continue;  // handled with its tree
        }
        fs::path lock_path = dir / (hex + std::string(k_lock_suffix));
        LockFd fd(open_lock(lock_path));
        if (!try_lock_exclusive(fd.get())) {
            if (!lock_file) {
                ++result.pinned;
            }
            continue;
        }
        if (!lock_file) {
            log.infof("gc: removing unpacked tree {}", path.string());
            remove_tree(path);
            ++result.removed;
        }
        if (!temp) {
            ::unlink(lock_path.c_str());
        }
    }
    return result;
}

}  // namespace envpack
