#include "core/thread_pool.h"

#include <cstdlib>
#include <string>

namespace envpack {

unsigned default_thread_count() {
    if (const char* env = std::getenv("ENVPACK_THREADS"); env != nullptr && *env != '\0') {
        int n = std::atoi(env);
        if (n > 0) {
            return static_cast<unsigned>(n);
        }
    }
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

ThreadPool::ThreadPool(unsigned threads) {
    if (threads == 0) {
        threads = default_thread_count();
    }
    for (unsigned i = 0; i < threads; ++i) {
        m_workers.emplace_back([this] { run(); });
    }
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_cv.notify_all();
    for (auto& t : m_workers) {
        t.join();
    }
}

void ThreadPool::run() {
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lock(m_mutex);
            m_cv.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
            if (m_queue.empty()) {
                return;
            }
            job = std::move(m_queue.front());
            m_queue.pop();
        }
        job();
    }
}

}  // namespace envpack
