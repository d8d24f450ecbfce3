// Writes a wheel's files straight into a prefix and can take them back: the transaction that makes
// wheel_install atomic without a staging tree (no copy of every file, no rename per file).
//
// A file that is not there yet is created at its final path (O_CREAT|O_EXCL); one that is there
// is written beside it under a temporary name (`.NAME.envpack-PID-N`) and renamed over it by
// commit(). Directories are made as needed; each one made or found is remembered, so no path is
// looked at twice and nothing is stat'ed per file. Until commit(), destroying the writer (an
// error anywhere in the install) unlinks every file it created and every temporary and removes
// the directories it made, deepest first: the prefix is as it was. commit() renames the
// temporaries over their targets in order; only an I/O error of a rename inside one directory
// can stop it half-way, and the files replaced until then stay replaced.
//
// Wheels installed side by side into one prefix (distinct files) each use their own writer: a
// directory another writer made is "found", and removing a directory that is not empty is skipped.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/fs.h"

namespace envpack::wheel_install::detail {

class PrefixWriter {
  public:
    explicit PrefixWriter(std::filesystem::path prefix);
    ~PrefixWriter();
    PrefixWriter(const PrefixWriter&) = delete;
    PrefixWriter& operator=(const PrefixWriter&) = delete;

    // A sink writing `dest` (relative to the prefix, '/'-separated, already checked to stay
    // inside it) with exactly `mode` whatever the umask. Opening a dest this writer already wrote
    // truncates what it wrote. Throws Error: a conflict when a directory is where the file goes,
    // I/O errors naming the path.
    std::unique_ptr<Sink> open(const std::string& dest, mode_t mode);

    // Renames the temporaries over the files they replace; after it the destructor undoes nothing.
    void commit();

  private:
    void ensure_dir(const std::filesystem::path& dir);
    void rollback() noexcept;

    std::filesystem::path m_prefix;
    std::unordered_set<std::string> m_dirs_known;  // absolute; made here or found
    std::vector<std::filesystem::path> m_dirs_made;
    std::vector<std::filesystem::path> m_created;  // new files at their final path
    struct Replacement {
        std::filesystem::path temp;
        std::filesystem::path target;
    };
    std::vector<Replacement> m_replacements;
    std::unordered_map<std::string, std::filesystem::path> m_written;  // dest -> path written
    bool m_committed = false;
};

}  // namespace envpack::wheel_install::detail
