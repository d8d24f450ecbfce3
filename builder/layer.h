// Deterministic layer tars, compressed and hashed in one pass.
//
// Entries are written sorted bytewise by path with every parent directory first (synthesised when
// missing), owners per `Owners` (uid/gid 0, no names, no xattrs by default), mtime = min(mtime,
// SOURCE_DATE_EPOCH) or 0 when `source_date_epoch` is unset, no atime/ctime, ustar headers with PAX
// records only for what ustar cannot hold (long names or link targets, sizes >= 8 GiB). Hard links
// point at the first path (in sorted order) of their inode. The tar is hashed (diff_id) as it is
// produced, compressed (core/compress.h) and the compressed bytes hashed (digest) — nothing is read
// twice. A file taken from a zip member (a wheel's) is inflated once; in a gzip layer its deflate
// stream goes in as a gzip member of its own, not compressed again (compressing is most of the
// cost of a layer), unless it is small (then it is compressed with its neighbours).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/compress.h"
#include "core/digest.h"
#include "core/fs.h"
#include "core/log.h"

namespace envpack {

class ZipReader;
struct ZipMember;

enum class EntryType { file, directory, symlink, hardlink };

// Who owns what a layer holds.
//   root: every entry 0:0, no user/group names, no xattrs — environment (conda) layers, whose
//         files a container user must not find owned by a build machine's accounts (DESIGN.md).
//   keep: each entry's uid/gid, uname/gname and xattrs as given — a layer made from a root
//         filesystem (`envpack import`, base images), where `root:shadow` files, setgid
//         directories and `security.capability` must survive.
// Modes (setuid/setgid/sticky included) are kept either way.
enum class Owners { root, keep };

// Extended attribute name -> raw value; sorted by name, so layers stay reproducible.
using Xattrs = std::map<std::string, std::string>;

struct LayerEntry {
    std::string path;  // relative, '/'-separated, no leading "./" or "/", no trailing '/'
    EntryType type = EntryType::file;
    std::uint32_t mode = 0644;  // permission bits (07777)
    std::uint64_t size = 0;     // files: bytes to copy
    std::int64_t mtime = 0;
    std::string link_target;  // symlink target, or hard link: the path of the first link
    // Where a file's bytes come from: a file on disk, a member of a zip archive (a wheel's file),
    // or `data` when neither is set.
    std::filesystem::path source;
    std::shared_ptr<const ZipReader> zip;
    const ZipMember* zip_member = nullptr;  // one of *zip's members; `size` is its size
    std::string data;
    // For zip members: called with the content's sha256 and size once it is read (a wheel checks
    // them against its RECORD); throws to refuse the layer.
    std::function<void(const Digest&, std::uint64_t)> verify;
    // For detection of files that change while they are read (snapshots): when set, the file's
    // size and mtime (ns) must still match after it is read, else write_layer throws.
    std::optional<std::int64_t> expect_mtime_ns;
    // Written only with Owners::keep (hard-link entries share their target's inode, so their own
    // xattrs are not written).
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::string uname;  // empty: unknown
    std::string gname;
    Xattrs xattrs;  // written as PAX SCHILY.xattr.NAME records
};

// Who hashes the compressed blob: write_layer (LayerResult::digest), or the sink it writes to (a
// store's BlobWriter hashes what it stores and commit() returns the digest; hashing it twice cost
// as much as the tar's own hash). With `by_sink`, a compressed layer's LayerResult::digest and
// size are left for the caller.
enum class BlobDigest { compute, by_sink };

struct LayerOptions {
    Compression compression = Compression::gzip;
    BlobDigest blob_digest = BlobDigest::compute;
    unsigned threads = 0;  // compressor threads; 0 = default_thread_count()
    // Clamp for mtimes; unset: every mtime is 0.
    std::optional<std::int64_t> source_date_epoch;
    Owners owners = Owners::root;
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

// Bytes of file content in `entries` (directories and links hold none).
std::uint64_t content_size(const std::vector<LayerEntry>& entries);

// Writes the layer for `entries` (any order; sorted and completed with parents here) to `out`.
// Throws Error naming the path if a source file cannot be read or changed while being read.
LayerResult write_layer(std::vector<LayerEntry> entries, const LayerOptions& options, Sink& out);

struct ScanOptions {
    // What to do with sockets, fifos and device nodes (not representable portably): skip with a
    // warning (the default) — OCI allows char/block/fifo entries, but a rootfs import from a
    // running system usually holds /dev nodes that must not be baked into an image.
    bool warn_special = true;
    // Owners::keep also reads uid/gid, the `user.*` and `security.*` xattrs (not
    // `security.selinux`, a label of the host, not of the tree) and names uid/gid from the tree's
    // own `etc/passwd` and `etc/group` (never the host's: the result must not depend on the
    // machine). Owners::root reads none of it.
    Owners owners = Owners::root;
};

// Walks a directory tree (not following symlinks) into layer entries, with hard links detected
// by (dev, inode). The root itself is not an entry. Throws Error naming unreadable paths.
std::vector<LayerEntry> scan_tree(const std::filesystem::path& root, Log& log,
                                  const ScanOptions& options = {});

// Parses an /etc/passwd or /etc/group text into id -> name (the first name of each id wins;
// malformed lines are ignored).
std::map<std::uint32_t, std::string> parse_id_names(std::string_view etc_file);

// Reads the `user.*` and `security.*` xattrs of `path` (not following symlinks), except
// `security.selinux`. Filesystems without xattrs give an empty map. Throws Error naming the path on
// other failures.
Xattrs read_xattrs(const std::filesystem::path& path);

// $SOURCE_DATE_EPOCH if set and valid (bad-input Error if set and malformed), else nullopt.
std::optional<std::int64_t> source_date_epoch_from_env();

}  // namespace envpack
