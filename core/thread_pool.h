// A fixed-size thread pool. submit() returns a future; exceptions travel through it.
// The destructor waits for queued work to finish.
#pragma once

#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace envpack {

class ThreadPool {
  public:
    // `threads` = 0 means std::thread::hardware_concurrency() (at least 1).
    explicit ThreadPool(unsigned threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    template <class F>
    auto submit(F&& fn) -> std::future<decltype(fn())> {
        using R = decltype(fn());
        auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(fn));
        std::future<R> result = task->get_future();
        {
            std::lock_guard lock(m_mutex);
            m_queue.emplace([task] { (*task)(); });
        }
        m_cv.notify_one();
        return result;
    }

    unsigned size() const { return static_cast<unsigned>(m_workers.size()); }

  private:
    void run();
    std::vector<std::thread> m_workers;
    std::queue<std::function<void()>> m_queue;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stopping = false;
};

// Number of worker threads to use by default: $ENVPACK_THREADS or the hardware count.
unsigned default_thread_count();

}  // namespace envpack
