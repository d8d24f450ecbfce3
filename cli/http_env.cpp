#include "cli/http_env.h"

#include <chrono>
#include <cstdlib>
#include <string>

namespace envpack::cli {

HttpOptions http_options_from_env(Log& log) {
    HttpOptions o;
    if (const char* t = std::getenv("ENVPACK_HTTP_TIMEOUT"); t != nullptr && *t != '\0') {
        auto ms = std::chrono::milliseconds(static_cast<long>(std::atof(t) * 1000));
        o.connect_timeout = ms;
        o.low_speed_timeout = ms;
    }
    if (const char* r = std::getenv("ENVPACK_HTTP_RETRIES"); r != nullptr && *r != '\0') {
        o.retries = std::atoi(r);
    }
    o.on_retry = [&log](const std::string& message) { log.warn(message); };
    return o;
}

std::string mmdebstrap_from_env() {
    const char* m = std::getenv("ENVPACK_MMDEBSTRAP");
    return m != nullptr && *m != '\0' ? m : "mmdebstrap";
}

}  // namespace envpack::cli
