#include "core/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack {

struct ArchiveReader::Impl {
    archive* a = nullptr;
    std::string name;
    ~Impl() {
        if (a != nullptr) {
            archive_read_free(a);
        }
    }
    Error fail(std::string_view what) const {
        return Error(
            fmt::format("{} `{}`: {}", what, name,
                        a != nullptr && archive_error_string(a) != nullptr ? archive_error_string(a)
                                                                           : "unknown error"),
            "the file is damaged or not an archive");
    }
};

static archive* new_reader() {
    archive* a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_format_zip(a);
    return a;
}

ArchiveReader::ArchiveReader(const std::filesystem::path& path) : m_impl(std::make_unique<Impl>()) {
    m_impl->name = path.string();
    m_impl->a = new_reader();
    if (archive_read_open_filename(m_impl->a, path.c_str(), 1 << 16) != ARCHIVE_OK) {
        throw m_impl->fail("open archive");
    }
}

ArchiveReader::ArchiveReader(const void* data, size_t size, std::string name)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->name = std::move(name);
    m_impl->a = new_reader();
    if (archive_read_open_memory(m_impl->a, data, size) != ARCHIVE_OK) {
        throw m_impl->fail("open archive");
    }
}

ArchiveReader::~ArchiveReader() = default;

std::optional<ArchiveEntry> ArchiveReader::next() {
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(m_impl->a, &e);
    if (rc == ARCHIVE_EOF) {
        return std::nullopt;
    }
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
        throw m_impl->fail("read archive");
    }
    ArchiveEntry out;
    const char* p = archive_entry_pathname(e);
    out.path = p != nullptr ? p : "";
    out.mode = archive_entry_perm(e);
    out.size = static_cast<std::uint64_t>(archive_entry_size(e));
    out.mtime = archive_entry_mtime(e);
    out.uid = static_cast<std::uint32_t>(archive_entry_uid(e));
    out.gid = static_cast<std::uint32_t>(archive_entry_gid(e));
    out.uname = archive_entry_uname(e) != nullptr ? archive_entry_uname(e) : "";
    out.gname = archive_entry_gname(e) != nullptr ? archive_entry_gname(e) : "";
    archive_entry_xattr_reset(e);
    const char* xname = nullptr;
    const void* xvalue = nullptr;
    size_t xsize = 0;
    while (archive_entry_xattr_next(e, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
        out.xattrs.emplace_back(xname, std::string(static_cast<const char*>(xvalue), xsize));
    }
    if (const char* h = archive_entry_hardlink(e); h != nullptr) {
        out.type = ArchiveEntry::Type::hardlink;
        out.link_target = h;
        return out;
    }
    switch (archive_entry_filetype(e)) {
        case AE_IFREG:
            out.type = ArchiveEntry::Type::file;
            break;
        case AE_IFDIR:
            out.type = ArchiveEntry::Type::directory;
            break;
        case AE_IFLNK:
            out.type = ArchiveEntry::Type::symlink;
            out.link_target = archive_entry_symlink(e) != nullptr ? archive_entry_symlink(e) : "";
            break;
        default:
            out.type = ArchiveEntry::Type::other;
            break;
    }
    return out;
}

std::uint64_t ArchiveReader::read_data(Sink& out) {
    std::uint64_t total = 0;
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
        int rc = archive_read_data_block(m_impl->a, &buf, &size, &offset);
        if (rc == ARCHIVE_EOF) {
            return total;
        }
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
            throw m_impl->fail("read archive data");
        }
        out.write(buf, size);
        total += size;
    }
}

std::optional<std::string> safe_relative_path(std::string_view path) {
    if (path.starts_with("/")) {
        return std::nullopt;
    }
    std::string out;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string_view::npos) {
            j = path.size();
        }
        std::string_view comp = path.substr(i, j - i);
        if (comp == "..") {
            return std::nullopt;
        }
        if (!comp.empty() && comp != ".") {
            if (!out.empty()) {
                out += '/';
            }
            out += comp;
        }
        i = j + 1;
    }
    return out;
}

}  // namespace envpack
