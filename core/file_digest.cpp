#include "core/file_digest.h"

#include <sys/stat.h>

#include <cerrno>
#include <optional>

#include "core/error.h"
#include "core/fs.h"
#include "core/hasher.h"

namespace envpack {

namespace fs = std::filesystem;

namespace {

std::optional<Digest> fingerprint(const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return std::nullopt;
    }
    Hasher h("envpack.file-digest.v1");
    h.add("path", fs::absolute(file).lexically_normal().string());
    h.add("dev", static_cast<std::int64_t>(st.st_dev));
    h.add("ino", static_cast<std::int64_t>(st.st_ino));
    h.add("size", static_cast<std::int64_t>(st.st_size));
    h.add("mtime",
          static_cast<std::int64_t>(st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec));
    h.add("ctime",
          static_cast<std::int64_t>(st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec));
    return h.finish();
}

}  // namespace

Digest remembered_file_digest(const fs::path& file, const fs::path& memo_dir) {
    if (memo_dir.empty()) {
        return Digest::of_file(file.string());
    }
    const std::optional<Digest> before = fingerprint(file);
    const fs::path memo = before ? memo_dir / before->hex() : fs::path();
    if (!memo.empty()) {
        try {
            if (auto known = Digest::parse(read_file(memo))) {
                return *known;
            }
        } catch (const Error&) {
            // No memo (or an unreadable one): read the file.
        }
    }
    const Digest digest = Digest::of_file(file.string());
    if (!memo.empty() && fingerprint(file) == before) {
        try {
            make_dirs(memo_dir);
            write_file_atomic(memo, digest.to_string(), Durability::none);
        } catch (const Error&) {
            // The next run reads the file again.
        }
    }
    return digest;
}

}  // namespace envpack
