// The clock that paces retries and expires tokens, behind an interface so tests can fake it.
//
// `Clock::real()` is the steady clock and a real sleep. A test passes its own `Clock` (see
// tests/lib/fake_clock.h) through the options of the code under test (`HttpOptions::clock`,
// `RegistryOptions::clock`): sleeps then return at once and are recorded, and `now()` moves only
// when the test (or a sleep) moves it.
#pragma once

#include <chrono>

namespace envpack {

class Clock {
  public:
    using time_point = std::chrono::steady_clock::time_point;

    virtual ~Clock() = default;
    virtual time_point now() = 0;
    // Blocks the calling thread for `d` (a fake returns at once and advances now()).
    virtual void sleep_for(std::chrono::milliseconds d) = 0;

    // The process-wide real clock (std::chrono::steady_clock, std::this_thread::sleep_for).
    static Clock& real();
};

}  // namespace envpack
