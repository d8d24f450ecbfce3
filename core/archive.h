// Reading archives with libarchive (tar in any compression, zip, .tar.bz2, .tar.zst) entry by
// entry. libarchive's headers stay out of here. Entry paths are returned exactly as stored;
// checking them for traversal is the caller's job (see `safe_relative_path`).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/fs.h"

namespace envpack {

struct ArchiveEntry {
    enum class Type { file, directory, symlink, hardlink, other };
    std::string path;
    Type type = Type::file;
    std::uint32_t mode = 0;
    std::uint64_t size = 0;
    std::int64_t mtime = 0;
    std::string link_target;  // symlink target or hard-link target path
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::string uname;  // empty when the archive names none
    std::string gname;
    std::vector<std::pair<std::string, std::string>> xattrs;  // name, raw value (tar: PAX records)
};

class ArchiveReader {
  public:
    // Opens a file; throws Error naming it if it is not a readable archive.
    explicit ArchiveReader(const std::filesystem::path& path);
    // Opens an in-memory archive (the bytes must outlive the reader).
    ArchiveReader(const void* data, size_t size, std::string name);
    ~ArchiveReader();
    ArchiveReader(const ArchiveReader&) = delete;
    ArchiveReader& operator=(const ArchiveReader&) = delete;

    // The next entry, or nullopt at the end. Throws Error on a damaged archive.
    std::optional<ArchiveEntry> next();
    // Streams the current entry's data to `out`; returns bytes written.
    std::uint64_t read_data(Sink& out);

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Normalises an archive member path to a relative '/'-separated path ("./a//b/" -> "a/b").
// Returns nullopt for absolute paths and paths with ".." components.
std::optional<std::string> safe_relative_path(std::string_view path);

}  // namespace envpack
