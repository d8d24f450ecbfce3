#include "builder/unpack.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include <fmt/format.h>

#include "core/archive.h"
#include "core/error.h"

namespace envpack {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_whiteout = ".wh.";
constexpr std::string_view k_opaque = ".wh..wh..opq";

// Fails if any existing component of `rel` below `root` (not the last) is a symlink or not a dir.
void check_parents(const fs::path& root, const std::string& rel, const fs::path& layer) {
    fs::path cur = root;
    size_t i = 0;
    for (;;) {
        size_t j = rel.find('/', i);
        if (j == std::string::npos) {
            return;
        }
        cur /= rel.substr(i, j - i);
        struct stat st {};
        if (::lstat(cur.c_str(), &st) == 0) {
            if (S_ISLNK(st.st_mode)) {
                throw Error(
                    fmt::format("layer `{}`: entry `{}` passes through the symbolic link `{}`",
                                layer.string(), rel, rel.substr(0, j)),
                    "the layer is malformed or hostile; it was not applied");
            }
            if (!S_ISDIR(st.st_mode)) {
                fs::remove(cur);
                fs::create_directory(cur);
            }
        } else {
            fs::create_directories(cur);
        }
        i = j + 1;
    }
}

void remove_path(const fs::path& p) {
    std::error_code ec;
    fs::remove_all(p, ec);
}

}  // namespace

UnpackStats apply_layer(const fs::path& layer_file, const fs::path& dest, Log& log) {
    UnpackStats stats;
    stats.layers = 1;
    ArchiveReader reader(layer_file);
    std::set<std::string> written;  // paths this layer created (opaque markers keep them)
    while (auto e = reader.next()) {
        auto rel = safe_relative_path(e->path);
        if (!rel) {
            throw Error(fmt::format("layer `{}`: entry `{}` is absolute or contains `..`",
                                    layer_file.string(), e->path),
                        "the layer is malformed or hostile; it was not applied");
        }
        if (rel->empty()) {
            continue;
        }
        ++stats.entries;
        check_parents(dest, *rel, layer_file);
        std::string base =
            rel->substr(rel->rfind('/') == std::string::npos ? 0 : rel->rfind('/') + 1);
        std::string dir =
            rel->size() > base.size() ? rel->substr(0, rel->size() - base.size() - 1) : "";
        fs::path target = dest / *rel;
        if (base == k_opaque) {
            ++stats.whiteouts;
            fs::path d = dir.empty() ? dest : dest / dir;
            std::error_code ec;
            for (const auto& child : fs::directory_iterator(d, ec)) {
                std::string child_rel =
                    (dir.empty() ? "" : dir + "/") + child.path().filename().string();
                if (!written.contains(child_rel)) {
                    remove_path(child.path());
                }
            }
            continue;
        }
        if (base.starts_with(k_whiteout)) {
            ++stats.whiteouts;
            remove_path(dest / (dir.empty() ? "" : dir) / base.substr(k_whiteout.size()));
            continue;
        }
        written.insert(*rel);
        struct stat st {};
        bool exists = ::lstat(target.c_str(), &st) == 0;
        if (exists && !(S_ISDIR(st.st_mode) && e->type == ArchiveEntry::Type::directory)) {
            remove_path(target);
        }
        switch (e->type) {
            case ArchiveEntry::Type::directory:
                if (!exists || !S_ISDIR(st.st_mode)) {
                    if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) {
                        throw_errno("mkdir", target.string(), errno);
                    }
                }
                ::chmod(target.c_str(), e->mode & 07777);
                break;
            case ArchiveEntry::Type::file: {
                AtomicFile out(target, Durability::none, static_cast<int>(e->mode & 0777));
                reader.read_data(out);
                ::fchmod(out.fd(), e->mode & 07777);
                out.commit();
                break;
            }
            case ArchiveEntry::Type::symlink:
                if (::symlink(e->link_target.c_str(), target.c_str()) != 0) {
                    throw_errno("symlink", target.string(), errno);
                }
                break;
            case ArchiveEntry::Type::hardlink: {
                auto link_rel = safe_relative_path(e->link_target);
                if (!link_rel || link_rel->empty()) {
                    throw Error(
                        fmt::format("layer `{}`: hard link `{}` points outside the root (`{}`)",
                                    layer_file.string(), e->path, e->link_target));
                }
                check_parents(dest, *link_rel, layer_file);
                fs::path src = dest / *link_rel;
                struct stat ls {};
                if (::lstat(src.c_str(), &ls) != 0 || S_ISLNK(ls.st_mode) || S_ISDIR(ls.st_mode)) {
                    throw Error(fmt::format(
                        "layer `{}`: hard link `{}` points at `{}`, which is not a file",
                        layer_file.string(), e->path, e->link_target));
                }
                if (::link(src.c_str(), target.c_str()) != 0) {
                    throw_errno("link", target.string(), errno);
                }
                break;
            }
            case ArchiveEntry::Type::other:
                log.warnf("layer `{}`: skipping special file `{}`", layer_file.string(), e->path);
                break;
        }
    }
    return stats;
}

UnpackStats unpack_image(const Store& store, const Manifest& manifest, const fs::path& dest,
                         Log& log) {
    std::error_code ec;
    if (fs::exists(dest, ec) && !fs::is_empty(dest, ec)) {
        throw bad_input(fmt::format("unpack: `{}` exists and is not empty", dest.string()));
    }
    make_dirs(dest);
    UnpackStats total;
    for (const auto& layer : manifest.layers) {
        store.verify_blob(layer.digest);
        UnpackStats s = apply_layer(store.blob_path(layer.digest), dest, log);
        total.layers += s.layers;
        total.entries += s.entries;
        total.whiteouts += s.whiteouts;
    }
    return total;
}

}  // namespace envpack
