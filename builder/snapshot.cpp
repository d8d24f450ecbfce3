#include "builder/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "builder/detail/snapshot_walk.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/hasher.h"
#include "core/thread_pool.h"

namespace envpack {
namespace {

constexpr std::string_view k_digest_schema = "envpack.snapshot.v1";

std::string mib(std::uint64_t bytes) {
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

using Fd = UniqueFd;

std::int64_t mtime_ns_of(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

Error changed_error(const std::string& shown, std::string_view how) {
    return Error(
        fmt::format("snapshot: file `{}` changed while it was being read ({})", shown, how),
        "snapshot again once nothing writes to it, or exclude it in an .amlignore or "
        ".gitignore file");
}

// Hashes one file, failing if it is not the file the walk saw or changes while it is read.
Digest hash_file(int root_fd, const std::filesystem::path& root, const SnapshotEntry& e,
                 std::vector<char>& buffer) {
    std::string shown = (root / e.path).string();
    // O_NONBLOCK: a fifo swapped in since the walk must not hang the snapshot.
    Fd fd(::openat(root_fd, e.path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT || errno == ELOOP) {
            throw changed_error(shown,
                                errno == ENOENT ? "it was removed" : "it became a symbolic link");
        }
        throw_errno("read", shown, errno,
                    "make it readable, or exclude it in an .amlignore or .gitignore file");
    }
    // One read for most files: ask for what the walk saw; the fstat afterwards catches a file
    // that grew, shrank or was rewritten in between (size or mtime differ from the walk's).
    Sha256 sha;
    std::uint64_t total = 0;
    while (total < e.size) {
        size_t want = static_cast<size_t>(std::min<std::uint64_t>(e.size - total, buffer.size()));
        ssize_t n = ::read(fd.get(), buffer.data(), want);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("read", shown, errno);
        }
        if (n == 0) {
            break;
        }
        sha.update(buffer.data(), static_cast<size_t>(n));
        total += static_cast<std::uint64_t>(n);
    }
    struct stat after {};
    if (::fstat(fd.get(), &after) != 0) {
        throw_errno("stat", shown, errno);
    }
    if (!S_ISREG(after.st_mode)) {
        throw changed_error(shown, "it is no longer a regular file");
    }
    if (total != e.size || static_cast<std::uint64_t>(after.st_size) != e.size ||
        mtime_ns_of(after) != e.mtime_ns) {
        throw changed_error(
            shown, fmt::format("{} bytes expected, {} read, {} now", e.size, total, after.st_size));
    }
    return sha.finish();
}

void hash_files(SnapshotListing& listing, unsigned threads) {
    Fd root_fd(::open(listing.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (root_fd.get() < 0) {
        throw_errno("open directory", listing.root.string(), errno);
    }
    std::vector<SnapshotEntry*> files;
    for (auto& e : listing.entries) {
        if (e.type == SnapshotEntryType::file) {
            files.push_back(&e);
        }
    }
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    auto work = [&] {
        std::vector<char> buffer(1 << 20);
        while (!failed) {
            size_t i = next++;
            if (i >= files.size()) {
                return;
            }
            try {
                files[i]->content = hash_file(root_fd.get(), listing.root, *files[i], buffer);
            } catch (...) {
                failed = true;
                throw;
            }
        }
    };
    threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(files.size())));
    if (threads <= 1) {
        work();
        return;
    }
    ThreadPool pool(threads);
    std::vector<std::future<void>> done;
    for (unsigned i = 0; i < threads; ++i) {
        done.push_back(pool.submit(work));
    }
    std::exception_ptr error;
    for (auto& f : done) {
        try {
            f.get();
        } catch (...) {
            if (!error) {
                error = std::current_exception();
            }
        }
    }
    if (error) {
        std::rethrow_exception(error);
    }
}

struct DirTotal {
    std::uint64_t bytes = 0;
    std::uint64_t files = 0;
};

std::map<std::string, DirTotal> directory_totals(const SnapshotListing& listing) {
    std::map<std::string, DirTotal> totals;
    for (const auto& e : listing.entries) {
        if (e.type == SnapshotEntryType::directory) {
            continue;
        }
        for (size_t slash = e.path.find('/'); slash != std::string::npos;
             slash = e.path.find('/', slash + 1)) {
            auto& t = totals[e.path.substr(0, slash)];
            t.bytes += e.size;
            t.files += 1;
        }
    }
    return totals;
}

std::string limit_report(const SnapshotListing& listing, bool by_bytes) {
    std::string out = "largest files:";
    for (const auto* e : largest_files(listing, 5)) {
        out += fmt::format("\n  {}  {} ({} bytes)", e->path, mib(e->size), e->size);
    }
    auto totals = directory_totals(listing);
    std::vector<std::pair<std::string, DirTotal>> dirs(totals.begin(), totals.end());
    std::stable_sort(dirs.begin(), dirs.end(), [&](const auto& a, const auto& b) {
        return by_bytes ? a.second.bytes > b.second.bytes : a.second.files > b.second.files;
    });
    if (!dirs.empty()) {
        out += "\nlargest directories:";
    }
    for (size_t i = 0; i < dirs.size() && i < 5; ++i) {
        out += fmt::format("\n  {}/  {} in {} files", dirs[i].first, mib(dirs[i].second.bytes),
                           dirs[i].second.files);
    }
    return out;
}

void check_root(const std::filesystem::path& root) {
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENAMETOOLONG) {
            throw bad_input(fmt::format("snapshot: source directory `{}` does not exist ({})",
                                        root.string(), std::strerror(err)),
                            "pass the directory holding the job's code");
        }
        throw_errno("snapshot: stat", root.string(), err);
    }
    if (!S_ISDIR(st.st_mode)) {
        throw bad_input(fmt::format("snapshot: `{}` is not a directory", root.string()),
                        "pass the directory holding the job's code");
    }
}

}  // namespace

SnapshotListing walk_snapshot(const std::filesystem::path& root, Log& log,
                              const SnapshotOptions& options, WalkDetail detail) {
    check_root(root);
    unsigned threads = options.threads == 0 ? default_thread_count() : options.threads;
    return detail::walk_tree(root, log, threads, detail);
}

void list_snapshot_paths(const std::filesystem::path& root, Log& log,
                         const SnapshotOptions& options,
                         const std::function<void(std::string_view path)>& emit) {
    check_root(root);
    unsigned threads = options.threads == 0 ? default_thread_count() : options.threads;
    detail::walk_paths(root, log, threads, emit);
}

void check_snapshot_limits(const SnapshotListing& listing, const SnapshotOptions& options) {
    bool over_bytes = options.max_bytes != 0 && listing.bytes > options.max_bytes;
    bool over_files = options.max_files != 0 && listing.files > options.max_files;
    if (!over_bytes && !over_files) {
        return;
    }
    std::string what;
    if (over_bytes) {
        what = fmt::format("the size limit of {} ({} bytes)", mib(options.max_bytes),
                           options.max_bytes);
    }
    if (over_files) {
        what += fmt::format("{}the file limit of {} files", what.empty() ? "" : " and ",
                            options.max_files);
    }
    std::string message =
        fmt::format("snapshot of `{}` exceeds {}: it holds {} files, {} ({} bytes) in all\n{}",
                    listing.root.string(), what, listing.files, mib(listing.bytes), listing.bytes,
                    limit_report(listing, over_bytes));
    std::string hint = fmt::format(
        "exclude what the job does not need in an .amlignore or .gitignore "
        "file, or raise {} (0: no limit)",
        over_bytes && over_files ? "--max-bytes and --max-files"
        : over_bytes             ? "--max-bytes"
                                 : "--max-files");
    throw bad_input(std::move(message), std::move(hint));
}

Digest snapshot_digest(const SnapshotListing& listing) {
    Hasher h(k_digest_schema);
    for (const auto& e : listing.entries) {
        h.add("path", e.path);
        switch (e.type) {
            case SnapshotEntryType::file:
                h.add("type", "file");
                h.add("executable", e.executable);
                h.add("content", e.content);
                break;
            case SnapshotEntryType::symlink:
                h.add("type", "symlink");
                h.add("target", e.link_target);
                break;
            case SnapshotEntryType::directory:
                h.add("type", "directory");
                break;
        }
    }
    return h.finish();
}

Snapshot make_snapshot(const std::filesystem::path& root, Log& log,
                       const SnapshotOptions& options) {
    Snapshot s;
    s.listing = walk_snapshot(root, log, options, WalkDetail::full);
    check_snapshot_limits(s.listing, options);
    hash_files(s.listing, options.threads == 0 ? default_thread_count() : options.threads);
    s.digest = snapshot_digest(s.listing);
    return s;
}

std::vector<LayerEntry> snapshot_layer_entries(const Snapshot& snapshot) {
    std::vector<LayerEntry> out;
    out.reserve(snapshot.listing.entries.size());
    for (const auto& e : snapshot.listing.entries) {
        LayerEntry l;
        l.path = e.path;
        switch (e.type) {
            case SnapshotEntryType::file:
                l.type = EntryType::file;
                l.mode = e.executable ? 0755 : 0644;
                l.size = e.size;
                l.mtime = e.mtime_ns / 1000000000;
                l.source = snapshot.listing.root / e.path;
                l.expect_mtime_ns = e.mtime_ns;
                break;
            case SnapshotEntryType::symlink:
                l.type = EntryType::symlink;
                l.mode = 0777;
                l.link_target = e.link_target;
                break;
            case SnapshotEntryType::directory:
                l.type = EntryType::directory;
                l.mode = 0755;
                break;
        }
        out.push_back(std::move(l));
    }
    return out;
}

LayerResult write_snapshot_layer(const Snapshot& snapshot, const LayerOptions& options, Sink& out) {
    return write_layer(snapshot_layer_entries(snapshot), options, out);
}

LayerResult make_snapshot_layer(const std::filesystem::path& root, Log& log,
                                const SnapshotOptions& options, const LayerOptions& layer_options,
                                Sink& out, Snapshot& snapshot) {
    snapshot = Snapshot{};
    snapshot.listing = walk_snapshot(root, log, options, WalkDetail::full);
    check_snapshot_limits(snapshot.listing, options);
    std::vector<LayerEntry> entries = snapshot_layer_entries(snapshot);
    unsigned threads = options.threads == 0 ? default_thread_count() : options.threads;
    // The hashing threads write only `content` fields; the layer writer reads only `entries`.
    auto hashing = std::async(std::launch::async, [&] { hash_files(snapshot.listing, threads); });
    LayerResult result;
    try {
        result = write_layer(std::move(entries), layer_options, out);
    } catch (...) {
        hashing.wait();
        throw;
    }
    hashing.get();
    snapshot.digest = snapshot_digest(snapshot.listing);
    return result;
}

std::vector<const SnapshotEntry*> largest_files(const SnapshotListing& listing, size_t n) {
    std::vector<const SnapshotEntry*> files;
    for (const auto& e : listing.entries) {
        if (e.type == SnapshotEntryType::file) {
            files.push_back(&e);
        }
    }
    auto bigger = [](const SnapshotEntry* a, const SnapshotEntry* b) {
        return a->size != b->size ? a->size > b->size : a->path < b->path;
    };
    n = std::min(n, files.size());
    std::partial_sort(files.begin(), files.begin() + static_cast<std::ptrdiff_t>(n), files.end(),
                      bigger);
    files.resize(n);
    return files;
}

}  // namespace envpack
