// The order in which independent wheels are handed to a thread pool: largest first (the "longest
// processing time first" rule). Submitted in resolution order, a big wheel that comes last is the
// whole tail of an install by itself while the other threads idle.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <future>
#include <string>
#include <vector>

#include "core/thread_pool.h"

namespace envpack::wheel_install::detail {

// Indices of `urls`, local files (`file://`, sized with one stat each) largest first; files whose
// size is unknown (remote, missing) keep their order after them. Stable among equal sizes.
std::vector<std::size_t> largest_first(const std::vector<std::string>& urls);

// Runs `task(i)` for every index of `urls` on `pool`, submitted largest_first; once a task has
// thrown, those not started yet are skipped. Waits for all, then returns the results in the
// order of `urls`, or rethrows the first failure in that order.
template <class F>
auto run_largest_first(ThreadPool& pool, const std::vector<std::string>& urls, F task)
    -> std::vector<decltype(task(std::size_t{}))> {
    using R = decltype(task(std::size_t{}));
    std::atomic<bool> failed{false};
    std::vector<std::future<R>> work(urls.size());
    for (std::size_t i : largest_first(urls)) {
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

}  // namespace envpack::wheel_install::detail
