// The order in which independent pieces of work (wheels to install, layers to write) are handed to
// a thread pool: largest first (the "longest processing time first" rule). Submitted in their own
// order, a big one that comes last is the whole tail by itself while the other threads idle.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "core/thread_pool.h"

namespace envpack::wheel_install::detail {

// Indices of `urls`, local files (`file://`, sized with one stat each) largest first; files whose
// size is unknown (remote, missing) keep their order after them. Stable among equal sizes.
std::vector<std::size_t> largest_first(const std::vector<std::string>& urls);

// Indices of `sizes`, largest first, stable among equal sizes.
std::vector<std::size_t> largest_first(const std::vector<std::uint64_t>& sizes);

// Runs `task(i)` for every i < `order.size()` on `pool`, submitted in `order` (a permutation);
// once a task has thrown, those not started yet are skipped. Waits for all, then returns the
// results by index, or rethrows the first failure by index.
template <class F>
auto run_in_order(ThreadPool& pool, const std::vector<std::size_t>& order, F task)
    -> std::vector<decltype(task(std::size_t{}))> {
    using R = decltype(task(std::size_t{}));
    std::atomic<bool> failed{false};
    std::vector<std::future<R>> work(order.size());
    for (std::size_t i : order) {
        work[i] = pool.submit([&, i]() -> R {
            if (failed.load()) {
                return {};
            }
            try {
                return task(i);
            } catch (...) {
                failed = true;
                throw;
            }
        });
    }
    std::vector<R> out;
    out.reserve(work.size());
    std::exception_ptr first;
    for (auto& f : work) {
        try {
            out.push_back(f.get());
        } catch (...) {
            if (!first) {
                first = std::current_exception();
            }
        }
    }
    if (first) {
        std::rethrow_exception(first);
    }
    return out;
}

// run_in_order for the wheels at `urls`, largest_first.
template <class F>
auto run_largest_first(ThreadPool& pool, const std::vector<std::string>& urls, F task) {
    return run_in_order(pool, largest_first(urls), std::move(task));
}

}  // namespace envpack::wheel_install::detail
