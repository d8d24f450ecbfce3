#include "core/clock.h"

#include <thread>

namespace envpack {

namespace {

class SteadyClock final : public Clock {
  public:
    time_point now() override { return std::chrono::steady_clock::now(); }
    void sleep_for(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
};

}  // namespace

Clock& Clock::real() {
    static SteadyClock clock;
    return clock;
}

}  // namespace envpack
