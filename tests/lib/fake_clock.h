// A Clock for unit tests: sleep_for returns at once, records the duration and advances now().
// Thread-safe (registry transfers sleep from pool threads).
#pragma once

#include <chrono>
#include <mutex>
#include <vector>

#include "core/clock.h"

namespace envpack::test {

class FakeClock final : public Clock {
  public:
    time_point now() override {
        std::lock_guard lock(m_mutex);
        return m_now;
    }
    void sleep_for(std::chrono::milliseconds d) override {
        std::lock_guard lock(m_mutex);
        m_sleeps.push_back(d);
        m_now += d;
    }
    void advance(std::chrono::milliseconds d) {
        std::lock_guard lock(m_mutex);
        m_now += d;
    }
    std::vector<std::chrono::milliseconds> sleeps() {
        std::lock_guard lock(m_mutex);
        return m_sleeps;
    }

  private:
    std::mutex m_mutex;
    time_point m_now{std::chrono::hours(1000)};
    std::vector<std::chrono::milliseconds> m_sleeps;
};

}  // namespace envpack::test
