// Files: whole reads, atomic writes (temp file, fsync, rename), advisory locks, temp directories.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace envpack {

// Owns one file descriptor and closes it when destroyed (or hands it off with `release`).
class UniqueFd {
  public:
    explicit UniqueFd(int fd) : m_fd(fd) {}
    ~UniqueFd();
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    int get() const { return m_fd; }
    int release() {
        int fd = m_fd;
        m_fd = -1;
        return fd;
    }

  private:
    int m_fd;
};

// Byte sink for streamed output (layers, blobs, downloads).
class Sink {
  public:
    virtual ~Sink() = default;
    virtual void write(const void* data, size_t size) = 0;
    void write(std::string_view s) { write(s.data(), s.size()); }
};

// Gathers small writes into `capacity`-byte writes to `next` (writes at least that large pass
// straight through). flush() must be called before `next` is used; the destructor does not flush.
class BufferedSink : public Sink {
  public:
    explicit BufferedSink(Sink& next, size_t capacity = 1 << 20)
        : m_next(next), m_capacity(capacity) {
        m_buffer.reserve(capacity);
    }
    void write(const void* data, size_t size) override {
        if (m_buffer.size() + size > m_capacity) {
            flush();
        }
        if (size >= m_capacity) {
            m_next.write(data, size);
        } else {
            m_buffer.append(static_cast<const char*>(data), size);
        }
    }
    using Sink::write;
    void flush() {
        if (!m_buffer.empty()) {
            m_next.write(m_buffer.data(), m_buffer.size());
            m_buffer.clear();
        }
    }

  private:
    Sink& m_next;
    size_t m_capacity;
    std::string m_buffer;
};

// Reads a whole file. Throws Error naming the path.
std::string read_file(const std::filesystem::path& path);

// Writes all of `data` to `fd`, retrying short writes and EINTR. Throws Error naming `name` (with a
// hint when the disk is full).
void write_all(int fd, const void* data, size_t size, std::string_view name);

enum class Durability { fsync, none };

// A file written under a temporary name in the target's directory and renamed into place by
// commit(). If the object is destroyed without commit() (an exception, a kill), the temp file is
// removed (or, after kill -9, left as `.tmp-*` garbage that never has the final name).
class AtomicFile : public Sink {
  public:
    explicit AtomicFile(std::filesystem::path target, Durability durability = Durability::fsync,
                        int mode = 0644);
    ~AtomicFile() override;
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, size_t size) override;
    using Sink::write;
    // fsyncs (unless Durability::none), renames to the target and fsyncs the directory.
    void commit();
    // The temp path (to let another writer fill it, e.g. curl).
    const std::filesystem::path& temp_path() const { return m_temp; }
    int fd() const { return m_fd; }
    std::uint64_t bytes_written() const { return m_written; }

  private:
    std::filesystem::path m_target;
    std::filesystem::path m_temp;
    Durability m_durability;
    int m_fd = -1;
    std::uint64_t m_written = 0;
    bool m_committed = false;
};

// Writes `data` to `path` atomically.
void write_file_atomic(const std::filesystem::path& path, std::string_view data,
                       Durability durability = Durability::fsync);

enum class LockMode { shared, exclusive };

// An advisory lock (flock) on a lock file, created if missing; held until destruction.
// Blocks until acquired. Locks are released by the kernel when the process dies.
class FileLock {
  public:
    FileLock(const std::filesystem::path& path, LockMode mode);
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    FileLock(FileLock&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }

  private:
    int m_fd = -1;
};

// A directory removed (recursively) on destruction.
class TempDir {
  public:
    // Creates `<parent>/<prefix>XXXXXX`; parent defaults to $TMPDIR or /tmp.
    explicit TempDir(std::string_view prefix = "envpack-", std::filesystem::path parent = {});
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return m_path; }

  private:
    std::filesystem::path m_path;
};

// Creates the directory and its parents; throws Error naming the path on failure.
void make_dirs(const std::filesystem::path& path);

// fsyncs a directory so a rename in it is durable.
void fsync_dir(const std::filesystem::path& dir);

}  // namespace envpack

namespace envpack {
// Up to `n` bytes from the start of a file. Throws Error naming the path.
std::string read_file_head(const std::filesystem::path& path, size_t n);
}  // namespace envpack
