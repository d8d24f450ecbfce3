// A streaming tar reader for layers: ustar and GNU headers (base-256 numbers, `L`/`K` long
// names), PAX extended headers (`path`, `linkpath`, `size`, `uid`, `gid`, `uname`, `gname`,
// `mtime`, `SCHILY.xattr.*`), header checksums verified. It pulls bytes from a source function
// and never seeks, so a layer is read once, as it is decompressed. Paths are returned as stored;
// checking them is the caller's job.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace envpack::detail {

struct TarEntry {
    enum class Type { file, directory, symlink, hardlink, char_device, block_device, fifo, other };
    std::string path;
    Type type = Type::file;
    std::uint32_t mode = 0;  // 07777 bits
    std::uint64_t size = 0;  // file content bytes
    std::int64_t mtime = 0;
    std::int64_t mtime_nsec = 0;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::string link_target;  // symlink target, or a hard link's target path
    std::vector<std::pair<std::string, std::string>> xattrs;
};

class TarReader {
  public:
    // `source(max)` returns up to `max` further bytes, empty at the end of the stream.
    // `name` goes into errors ("layer sha256:...").
    TarReader(std::function<std::string_view(std::size_t)> source, std::string name);

    // The next entry, or nullopt at the end of the archive. Skips what was not read of the
    // previous entry's data. Throws Error naming the archive on damage (bad checksum, truncation).
    std::optional<TarEntry> next();
    // Streams the current entry's data to `out` in pieces; call at most once per entry.
    void read_data(const std::function<void(std::string_view)>& out);

  private:
    std::string_view take(std::size_t max);  // at most max, possibly less; throws at the end
    void read_exact(char* dst, std::size_t n);
    void skip(std::uint64_t n);
    std::string read_string(std::uint64_t n);

    std::function<std::string_view(std::size_t)> m_source;
    std::string m_name;
    std::uint64_t m_data_left = 0;  // of the current entry
    std::uint64_t m_padding = 0;    // after the current entry's data
    bool m_ended = false;
};

}  // namespace envpack::detail
