#include "core/heap.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace envpack {
namespace {

// Set by the parent for the re-executed child: "-" when GLIBC_TUNABLES was unset, else "=" and
// its old value.
constexpr const char* k_marker = "ENVPACK_HEAP_REEXEC";

void restore_tunables(const char* saved) {
    if (saved[0] == '=') {
        setenv("GLIBC_TUNABLES", saved + 1, 1);
    } else {
        unsetenv("GLIBC_TUNABLES");
    }
}

}  // namespace

std::optional<std::string> tunables_with_huge_pages(const char* current) {
    if (current == nullptr || current[0] == '\0') {
        return std::string("glibc.malloc.hugetlb=1");
    }
    if (std::strstr(current, "glibc.malloc.hugetlb") != nullptr) {
        return std::nullopt;  // the caller chose
    }
    return std::string(current) + ":glibc.malloc.hugetlb=1";
}

bool thp_mode_is_madvise(std::string_view enabled_file_text) {
    return enabled_file_text.find("[madvise]") != std::string_view::npos;
}

namespace {

void keep_big_blocks_in_heap() {
    constexpr int k_big = 1 << 30;
    mallopt(M_MMAP_THRESHOLD, k_big);
    mallopt(M_TRIM_THRESHOLD, k_big);
    // Grow each arena in big steps: threads' arenas otherwise grow 128 KiB at a time, and every
    // step is a system call that stalls the other threads' page faults.
    mallopt(M_TOP_PAD, 64 << 20);
}

// Re-executes with the huge-page tunable when that helps; returns when it does not (or fails).
void reexec_with_huge_pages(char** argv) {
    std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
    std::stringstream text;
    text << in.rdbuf();
    if (!in || !thp_mode_is_madvise(text.str())) {
        return;
    }
    const char* current = std::getenv("GLIBC_TUNABLES");
    std::optional<std::string> tunables = tunables_with_huge_pages(current);
    if (!tunables) {
        return;
    }
    std::string saved = current == nullptr ? "-" : std::string("=") + current;
    setenv(k_marker, saved.c_str(), 1);
    setenv("GLIBC_TUNABLES", tunables->c_str(), 1);
    execv("/proc/self/exe", argv);
    // Could not re-execute (no /proc?): carry on with the normal heap.
    unsetenv(k_marker);
    restore_tunables(saved.c_str());
}

}  // namespace

void tune_heap(char** argv, HeapUse use) {
    const char* opt = std::getenv("ENVPACK_TUNE_HEAP");
    const std::string_view setting = opt == nullptr ? "" : opt;
    if (setting == "0") {
        return;
    }
    if (const char* saved = std::getenv(k_marker); saved != nullptr) {
        // The re-executed child: glibc has read the tunable; give children the old environment.
        std::string copy = saved;
        unsetenv(k_marker);
        restore_tunables(copy.c_str());
    } else if (use == HeapUse::large || setting == "1") {
        reexec_with_huge_pages(argv);
    }
    keep_big_blocks_in_heap();
}

}  // namespace envpack
