#include "core/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <fmt/format.h>

#include "core/detail/lazy_library.h"
#include "core/error.h"

namespace envpack {

namespace {

// libarchive, opened on first use (core/detail/lazy_library.h).
struct ArchiveApi {
    decltype(&::archive_entry_filetype) entry_filetype;
    decltype(&::archive_entry_gid) entry_gid;
    decltype(&::archive_entry_gname) entry_gname;
    decltype(&::archive_entry_hardlink) entry_hardlink;
    decltype(&::archive_entry_mtime) entry_mtime;
    decltype(&::archive_entry_pathname) entry_pathname;
    decltype(&::archive_entry_perm) entry_perm;
    decltype(&::archive_entry_size) entry_size;
    decltype(&::archive_entry_symlink) entry_symlink;
    decltype(&::archive_entry_uid) entry_uid;
    decltype(&::archive_entry_uname) entry_uname;
    decltype(&::archive_entry_xattr_next) entry_xattr_next;
    decltype(&::archive_entry_xattr_reset) entry_xattr_reset;
    decltype(&::archive_error_string) error_string;
    decltype(&::archive_read_data_block) read_data_block;
    decltype(&::archive_read_free) read_free;
    decltype(&::archive_read_new) read_new;
    decltype(&::archive_read_next_header) read_next_header;
    decltype(&::archive_read_open_filename) read_open_filename;
    decltype(&::archive_read_open_memory) read_open_memory;
    decltype(&::archive_read_support_filter_all) read_support_filter_all;
    decltype(&::archive_read_support_format_gnutar) read_support_format_gnutar;
    decltype(&::archive_read_support_format_tar) read_support_format_tar;
    decltype(&::archive_read_support_format_zip) read_support_format_zip;
};

const ArchiveApi& archive_api() {
    static const ArchiveApi api = [] {
        constexpr const char* k_archive = "libarchive.so.13";
        void* lib = detail::open_library(
            k_archive, "install libarchive (Debian: apt-get install libarchive13)");
        ArchiveApi api{};
        detail::load_function(lib, k_archive, api.entry_filetype, "archive_entry_filetype");
        detail::load_function(lib, k_archive, api.entry_gid, "archive_entry_gid");
        detail::load_function(lib, k_archive, api.entry_gname, "archive_entry_gname");
        detail::load_function(lib, k_archive, api.entry_hardlink, "archive_entry_hardlink");
        detail::load_function(lib, k_archive, api.entry_mtime, "archive_entry_mtime");
        detail::load_function(lib, k_archive, api.entry_pathname, "archive_entry_pathname");
        detail::load_function(lib, k_archive, api.entry_perm, "archive_entry_perm");
        detail::load_function(lib, k_archive, api.entry_size, "archive_entry_size");
        detail::load_function(lib, k_archive, api.entry_symlink, "archive_entry_symlink");
        detail::load_function(lib, k_archive, api.entry_uid, "archive_entry_uid");
        detail::load_function(lib, k_archive, api.entry_uname, "archive_entry_uname");
        detail::load_function(lib, k_archive, api.entry_xattr_next, "archive_entry_xattr_next");
        detail::load_function(lib, k_archive, api.entry_xattr_reset, "archive_entry_xattr_reset");
        detail::load_function(lib, k_archive, api.error_string, "archive_error_string");
        detail::load_function(lib, k_archive, api.read_data_block, "archive_read_data_block");
        detail::load_function(lib, k_archive, api.read_free, "archive_read_free");
        detail::load_function(lib, k_archive, api.read_new, "archive_read_new");
        detail::load_function(lib, k_archive, api.read_next_header, "archive_read_next_header");
        detail::load_function(lib, k_archive, api.read_open_filename, "archive_read_open_filename");
        detail::load_function(lib, k_archive, api.read_open_memory, "archive_read_open_memory");
        detail::load_function(lib, k_archive, api.read_support_filter_all,
                              "archive_read_support_filter_all");
        detail::load_function(lib, k_archive, api.read_support_format_gnutar,
                              "archive_read_support_format_gnutar");
        detail::load_function(lib, k_archive, api.read_support_format_tar,
                              "archive_read_support_format_tar");
        detail::load_function(lib, k_archive, api.read_support_format_zip,
                              "archive_read_support_format_zip");
        return api;
    }();
    return api;
}

}  // namespace

struct ArchiveReader::Impl {
    archive* a = nullptr;
    std::string name;
    ~Impl() {
        if (a != nullptr) {
            archive_api().read_free(a);
        }
    }
    Error fail(std::string_view what) const {
        return Error(fmt::format("{} `{}`: {}", what, name,
                                 a != nullptr && archive_api().error_string(a) != nullptr
                                     ? archive_api().error_string(a)
                                     : "unknown error"),
                     "the file is damaged or not an archive");
    }
};

static archive* new_reader() {
    archive* a = archive_api().read_new();
    archive_api().read_support_filter_all(a);
    archive_api().read_support_format_tar(a);
    archive_api().read_support_format_gnutar(a);
    archive_api().read_support_format_zip(a);
    return a;
}

ArchiveReader::ArchiveReader(const std::filesystem::path& path) : m_impl(std::make_unique<Impl>()) {
    m_impl->name = path.string();
    m_impl->a = new_reader();
    if (archive_api().read_open_filename(m_impl->a, path.c_str(), 1 << 16) != ARCHIVE_OK) {
        throw m_impl->fail("open archive");
    }
}

ArchiveReader::ArchiveReader(const void* data, size_t size, std::string name)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->name = std::move(name);
    m_impl->a = new_reader();
    if (archive_api().read_open_memory(m_impl->a, data, size) != ARCHIVE_OK) {
        throw m_impl->fail("open archive");
    }
}

ArchiveReader::~ArchiveReader() = default;

std::optional<ArchiveEntry> ArchiveReader::next() {
    archive_entry* e = nullptr;
    int rc = archive_api().read_next_header(m_impl->a, &e);
    if (rc == ARCHIVE_EOF) {
        return std::nullopt;
    }
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
        throw m_impl->fail("read archive");
    }
    ArchiveEntry out;
    const char* p = archive_api().entry_pathname(e);
    out.path = p != nullptr ? p : "";
    out.mode = archive_api().entry_perm(e);
    out.size = static_cast<std::uint64_t>(archive_api().entry_size(e));
    out.mtime = archive_api().entry_mtime(e);
    out.uid = static_cast<std::uint32_t>(archive_api().entry_uid(e));
    out.gid = static_cast<std::uint32_t>(archive_api().entry_gid(e));
    out.uname = archive_api().entry_uname(e) != nullptr ? archive_api().entry_uname(e) : "";
    out.gname = archive_api().entry_gname(e) != nullptr ? archive_api().entry_gname(e) : "";
    archive_api().entry_xattr_reset(e);
    const char* xname = nullptr;
    const void* xvalue = nullptr;
    size_t xsize = 0;
    while (archive_api().entry_xattr_next(e, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
        out.xattrs.emplace_back(xname, std::string(static_cast<const char*>(xvalue), xsize));
    }
    if (const char* h = archive_api().entry_hardlink(e); h != nullptr) {
        out.type = ArchiveEntry::Type::hardlink;
        out.link_target = h;
        return out;
    }
    switch (archive_api().entry_filetype(e)) {
        case AE_IFREG:
            out.type = ArchiveEntry::Type::file;
            break;
        case AE_IFDIR:
            out.type = ArchiveEntry::Type::directory;
            break;
        case AE_IFLNK:
            out.type = ArchiveEntry::Type::symlink;
            out.link_target =
                archive_api().entry_symlink(e) != nullptr ? archive_api().entry_symlink(e) : "";
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
        int rc = archive_api().read_data_block(m_impl->a, &buf, &size, &offset);
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
