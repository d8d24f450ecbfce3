#include "builder/import.h"

#include <sys/stat.h>

#include <ctime>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/archive.h"
#include "core/error.h"

namespace envpack {

namespace fs = std::filesystem;

LayerResult write_tree_layer(Store& store, std::vector<LayerEntry> entries, LayerOptions options,
                             const std::string& label, Log& log) {
    std::uint64_t total = 0;
    for (const auto& e : entries) {
        total += e.type == EntryType::file ? e.size : 0;
    }
    Progress progress(log, label, total);
    options.on_progress = [&progress](std::uint64_t n) { progress.add(n); };
    options.blob_digest = BlobDigest::by_sink;
    BlobWriter blob = store.begin_blob();
    LayerResult layer = write_layer(std::move(entries), options, blob);
    layer.size = blob.size();
    layer.digest = blob.commit();
    progress.done();
    return layer;
}

std::string rfc3339(std::int64_t seconds) {
    std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

namespace {

// Reads a tar into layer entries; file contents go to numbered files in `scratch`.
std::vector<LayerEntry> entries_from_tar(const fs::path& tar_path, const fs::path& scratch,
                                         Owners owners, Log& log) {
    ArchiveReader reader(tar_path);
    std::vector<LayerEntry> entries;
    size_t counter = 0;
    while (auto e = reader.next()) {
        auto rel = safe_relative_path(e->path);
        if (!rel) {
            throw bad_input(
                fmt::format("`{}`: entry `{}` is absolute or leaves the root through `..`",
                            tar_path.string(), e->path),
                "a root filesystem tar must hold relative paths inside its root");
        }
        if (rel->empty()) {
            continue;
        }
        LayerEntry le;
        le.path = *rel;
        le.mode = e->mode & 07777;
        le.mtime = e->mtime;
        if (owners == Owners::keep) {
            le.uid = e->uid;
            le.gid = e->gid;
            for (auto& [k, v] : e->xattrs) {
                if ((k.starts_with("user.") || k.starts_with("security.")) &&
                    k != "security.selinux") {
                    le.xattrs.insert_or_assign(k, v);
                }
            }
        }
        switch (e->type) {
            case ArchiveEntry::Type::directory:
                le.type = EntryType::directory;
                break;
            case ArchiveEntry::Type::symlink:
                le.type = EntryType::symlink;
                le.link_target = e->link_target;
                break;
            case ArchiveEntry::Type::hardlink: {
                auto target = safe_relative_path(e->link_target);
                if (!target || target->empty()) {
                    throw bad_input(
                        fmt::format("`{}`: hard link `{}` points outside the root (`{}`)",
                                    tar_path.string(), e->path, e->link_target));
                }
                le.type = EntryType::hardlink;
                le.link_target = *target;
                break;
            }
            case ArchiveEntry::Type::file: {
                le.type = EntryType::file;
                le.source = scratch / std::to_string(counter++);
                AtomicFile out(le.source, Durability::none);
                le.size = reader.read_data(out);
                out.commit();
                break;
            }
            case ArchiveEntry::Type::other:
                log.warnf("`{}`: skipping special file `{}` (device, fifo or socket)",
                          tar_path.string(), e->path);
                continue;
        }
        entries.push_back(std::move(le));
    }
    if (owners == Owners::keep) {
        // Names as a directory import gives them: from the tree's own etc/passwd and etc/group,
        // never the names the tar recorded (those of the machine that made it), so the same tree
        // gives the same layer either way.
        std::map<std::uint32_t, std::string> users;
        std::map<std::uint32_t, std::string> groups;
        for (const auto& le : entries) {
            if (le.type == EntryType::file && le.path == "etc/passwd") {
                users = parse_id_names(read_file(le.source));
            } else if (le.type == EntryType::file && le.path == "etc/group") {
                groups = parse_id_names(read_file(le.source));
            }
        }
        for (auto& le : entries) {
            if (auto it = users.find(le.uid); it != users.end()) {
                le.uname = it->second;
            }
            if (auto it = groups.find(le.gid); it != groups.end()) {
                le.gname = it->second;
            }
        }
    }
    return entries;
}

}  // namespace

ImportResult import_rootfs(Store& store, const fs::path& source, const std::string& name,
                           const ImportOptions& options, Log& log) {
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0) {
        throw_errno("import", source.string(), errno,
                    "give a root filesystem directory or a tar file");
    }
    FileLock writer = store.writer_lock();
    std::optional<TempDir> scratch;
    std::vector<LayerEntry> entries;
    if (S_ISDIR(st.st_mode)) {
        ScanOptions so;
        so.owners = options.owners;
        entries = scan_tree(source, log, so);
    } else if (S_ISREG(st.st_mode)) {
        fs::path tmp_parent = store.root().parent_path() / "tmp";
        make_dirs(tmp_parent);
        scratch.emplace("import-", tmp_parent);
        entries = entries_from_tar(source, scratch->path(), options.owners, log);
    } else {
        throw bad_input(
            fmt::format("import `{}`: neither a directory nor a file", source.string()));
    }

    LayerOptions lo;
    lo.compression = options.compression;
    lo.threads = options.threads;
    lo.source_date_epoch = options.source_date_epoch;
    lo.owners = options.owners;
    LayerResult layer =
        write_tree_layer(store, std::move(entries), lo, fmt::format("import {}", name), log);

    ImageConfig config;
    config.platform = options.platform;
    config.created = rfc3339(options.source_date_epoch.value_or(0));
    config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    config.diff_ids = {layer.diff_id};
    config.history = {
        nlohmann::json{{"created", config.created}, {"created_by", "envpack import"}}};
    Descriptor config_desc = store.put_blob(config.to_bytes(), media_type::k_oci_config);

    Manifest manifest;
    manifest.config = config_desc;
    Descriptor layer_desc;
    layer_desc.media_type = layer.media_type;
    layer_desc.digest = layer.digest;
    layer_desc.size = static_cast<std::int64_t>(layer.size);
    manifest.layers = {layer_desc};
    Descriptor manifest_desc = store.put_blob(manifest.to_bytes(), media_type::k_oci_manifest);
    manifest_desc.platform = options.platform;
    store.tag(name, manifest_desc);
    return {name, manifest_desc, layer};
}

}  // namespace envpack
