// HTTP settings for the commands that fetch channels and packages (lock, build):
// ENVPACK_HTTP_TIMEOUT (seconds) and ENVPACK_HTTP_RETRIES tune them (tests use short ones to
// exercise timeouts quickly); retries are reported through `log`.
#pragma once

#include <string>

#include "core/http.h"
#include "core/log.h"

namespace envpack::cli {

HttpOptions http_options_from_env(Log& log);

// The mmdebstrap program base builds run: $ENVPACK_MMDEBSTRAP when set (tests substitute a
// failing or simulating one), else `mmdebstrap`.
std::string mmdebstrap_from_env();

}  // namespace envpack::cli
