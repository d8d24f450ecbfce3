// A read-only private memory mapping of a whole file, whose consumed pages can be handed back to
// the kernel as a sequential reader advances. Private to resolver/.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace envpack::detail {

class MappedFile {
  public:
    // Throws Error naming the path when it cannot be opened or mapped.
    explicit MappedFile(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::string_view view() const { return {m_data == nullptr ? "" : m_data, m_size}; }
    // Drops the pages wholly before `offset` from memory (they are re-read from the file if
    // touched again, e.g. to count lines for an error message).
    void release_before(std::size_t offset) { release(0, offset); }
    // Drops the pages wholly inside [begin, end). Safe to call from several threads.
    void release(std::size_t begin, std::size_t end);

  private:
    int m_fd = -1;
    const char* m_data = nullptr;
    std::size_t m_size = 0;
};

}  // namespace envpack::detail
