// Heap tuning for a short-lived process that builds large data structures: transparent huge
// pages for the malloc heap, and big blocks kept in the heap instead of fresh mappings.
//
// Reading a large repodata builds hundreds of megabytes of small records in a fresh process, and
// libsolv sorts millions of rules in freshly allocated buffers: on 4 KiB pages most of that time
// is page faults (measured: a 166 MB repodata parses in 1.17 s cold against 0.56 s on a warm
// heap). glibc (2.35+) backs its heap with transparent huge pages when the tunable
// `glibc.malloc.hugetlb=1` is set, but tunables are read only at process start, so `main` calls
// tune_heap() first: when the kernel's THP mode is `madvise` (the default on Debian)
// the process re-executes itself once with the tunable added. The child puts GLIBC_TUNABLES back
// as it was, so processes envpack starts see the caller's environment unchanged.
//
// Blocks over 128 KiB–32 MiB normally get their own mmap and go back to the kernel when freed, so
// every big temporary (libsolv's rule arrays and sort buffers, grown vectors) is faulted in and
// zeroed again: measured, the same deep solve takes 0.94 s that way and 0.49 s when big blocks
// stay in the heap (M_MMAP_THRESHOLD and M_TRIM_THRESHOLD raised to 1 GiB; peak RSS unchanged).
// Arenas also grow 64 MiB at a time (M_TOP_PAD): parsing a repodata in two threads went from
// 0.54 s to 0.39 s with it.
//
// The re-exec is a second process start (27 ms for envpack against 1.4 ms for the rest), so it
// is done only where the process will build large structures (HeapUse::large: `envpack lock`
// and `build`); ENVPACK_TUNE_HEAP=1 asks for it in every command, ENVPACK_TUNE_HEAP=0 turns all
// tuning off. Nothing is re-executed when GLIBC_TUNABLES already sets glibc.malloc.hugetlb, when
// THP is `always` (already used) or `never`, or when the exec fails (the process then goes on
// with the normal heap).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace envpack {

enum class HeapUse { small, large };

// Call first in main(). Never returns when it re-executes; otherwise sets the malloc thresholds
// and returns.
void tune_heap(char** argv, HeapUse use);

// Pure parts, for tests.
// The GLIBC_TUNABLES value that adds the huge-page heap to `current` (nullptr: unset), or nullopt
// when `current` already says something about glibc.malloc.hugetlb.
std::optional<std::string> tunables_with_huge_pages(const char* current);
// Whether the kernel's /sys/kernel/mm/transparent_hugepage/enabled text selects `madvise`.
bool thp_mode_is_madvise(std::string_view enabled_file_text);

}  // namespace envpack
