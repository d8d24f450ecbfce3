// Writes tar headers (ustar, with PAX extended headers where ustar cannot hold a value) for the
// deterministic layer writer and image export.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/fs.h"

namespace envpack::tar {

struct TarHeader {
    std::string name;  // as stored (directories end in '/')
    char typeflag = '0';
    std::uint32_t mode = 0644;
    std::uint64_t size = 0;
    std::int64_t mtime = 0;
    std::string linkname;
    // Owners: numeric ids (PAX `uid`/`gid` records past 7 octal digits) and names (empty: none;
    // PAX `uname`/`gname` past 32 bytes).
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::string uname;
    std::string gname;
    // Extended attributes, written in this order as PAX `SCHILY.xattr.NAME` records (as GNU tar
    // and umoci write them); values are raw bytes.
    std::vector<std::pair<std::string, std::string>> xattrs;
};

// Emits the header block(s) for `h` to `out` (PAX 'x' record first when needed).
void write_tar_header(Sink& out, const TarHeader& h);
// Pads file content of `size` bytes to a 512-byte boundary.
void write_tar_padding(Sink& out, std::uint64_t size);
// The two zero blocks that end an archive.
void write_tar_end(Sink& out);

}  // namespace envpack::tar
