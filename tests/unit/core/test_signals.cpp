#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include "core/error.h"
#include "core/signals.h"

using namespace envpack;

TEST_CASE("SignalForwarder turns SIGTERM and SIGINT into events, then restores the defaults") {
    struct sigaction before {};
    ::sigaction(SIGTERM, nullptr, &before);
    {
        SignalForwarder forwarder;
        CHECK_FALSE(forwarder.take());
        ::kill(::getpid(), SIGTERM);  // would end the test binary without the forwarder
        ::kill(::getpid(), SIGINT);
        CHECK(forwarder.take() == SIGTERM);
        CHECK(forwarder.take() == SIGINT);
        CHECK_FALSE(forwarder.take());
        CHECK_THROWS_AS(SignalForwarder(), Error);  // one at a time
    }
    struct sigaction after {};
    ::sigaction(SIGTERM, nullptr, &after);
    CHECK(after.sa_handler == before.sa_handler);
    SignalForwarder again;  // the slot is free again
}

TEST_CASE("signal_name") {
    CHECK(signal_name(SIGTERM) == "SIGTERM");
    CHECK(signal_name(SIGKILL) == "SIGKILL");
    CHECK(signal_name(999) == "signal 999");
}
