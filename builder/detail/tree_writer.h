// The write side of unpacking: layer entries applied onto a root directory through directory
// handles only (openat2 with RESOLVE_IN_ROOT, so a symlink in the tree — absolute or `..` —
// resolves inside the root, as umoci and runc's securejoin do; without openat2, a path through a
// symlink is refused). Whiteouts (`.wh.NAME`) and opaque markers (`.wh..wh..opq`) remove
// lower-layer content; files get owners, then modes (so setuid/setgid survive the chown), then
// xattrs (so `security.capability` survives both), then times; directories get owners and xattrs at
// once and their modes and times in finish(), deepest first, after everything inside them is
// written. Device nodes, fifos and unknown entry types are skipped with one note per layer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "builder/detail/tar_reader.h"
#include "core/log.h"

namespace envpack::detail {

struct TreeStats {
    std::uint64_t entries = 0;
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;  // file content written
    std::uint64_t whiteouts = 0;
    std::uint64_t skipped = 0;  // device nodes, fifos, unknown types
};

class TreeWriter {
  public:
    // `root` must exist (normally empty). Throws Error naming it if it cannot be opened.
    TreeWriter(const std::filesystem::path& root, Log& log);
    ~TreeWriter();
    TreeWriter(const TreeWriter&) = delete;
    TreeWriter& operator=(const TreeWriter&) = delete;

    // `layer` names the layer in errors and notes.
    void begin_layer(std::string layer);
    // Applies one entry; `data` streams a file's content (called once, for files only).
    // Throws Error naming the entry for absolute or `..` paths, hard links out of the tree, and
    // any I/O failure (a full disk names the file being written).
    void apply(const TarEntry& entry,
               const std::function<void(const std::function<void(std::string_view)>&)>& data);
    void end_layer();
    // Applies the deferred directory modes and times, deepest first.
    void finish();

    const TreeStats& stats() const { return m_stats; }

  private:
    struct DirMeta {
        std::uint32_t mode = 0755;
        std::int64_t mtime = 0;
        std::int64_t mtime_nsec = 0;
    };
    // A handle on directory `rel` ("" = root), created (0755, like umoci) with its parents when
    // missing. Cached; the cache is dropped whenever anything is removed.
    int dir_fd(const std::string& rel, std::string_view entry);
    int open_dir(const std::string& rel, std::string_view entry);
    void remove_child(int parent, const std::string& name, const std::string& rel);
    void remove_tree(int parent, const std::string& name);
    void forget_under(const std::string& rel);
    void set_owner(int fd, int parent, const std::string& name, const TarEntry& e,
                   const std::string& rel);
    void set_xattrs(int fd, int parent, const std::string& name, const TarEntry& e,
                    const std::string& rel);
    void write_file(int parent, const std::string& name, const std::string& rel, const TarEntry& e,
                    const std::function<void(const std::function<void(std::string_view)>&)>& data);
    [[noreturn]] void fail(std::string_view what, const std::string& rel, int err,
                           std::string hint = {}) const;

    std::filesystem::path m_root;
    Log& m_log;
    int m_root_fd = -1;
    std::string m_layer;
    std::unordered_map<std::string, int> m_dirs;  // rel -> fd
    std::map<std::string, DirMeta> m_deferred;    // directories seen in any layer
    std::set<std::string> m_layer_paths;          // written by the current layer (opaque dirs)
    std::uint64_t m_layer_skipped = 0;
    std::string m_first_skipped;
    bool m_chown_failed_noted = false;
    bool m_xattr_failed_noted = false;
    bool m_openat2 = true;
    TreeStats m_stats;
};

}  // namespace envpack::detail
