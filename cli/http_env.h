// HTTP settings for the commands that fetch channels and packages (lock, build):
// ENVPACK_HTTP_TIMEOUT (seconds) and ENVPACK_HTTP_RETRIES tune them (tests use short ones to
// exercise timeouts quickly); retries are reported through `log`.
#pragma once

#include "core/http.h"
#include "core/log.h"

namespace envpack::cli {

HttpOptions http_options_from_env(Log& log);

}  // namespace envpack::cli
