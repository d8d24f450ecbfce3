#include "core/error.h"

#include <cerrno>
#include <cstring>

namespace envpack {

std::string_view to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::failure:
            return "failure";
        case ErrorKind::bad_input:
            return "bad_input";
        case ErrorKind::auth:
            return "auth";
        case ErrorKind::transient:
            return "transient";
        case ErrorKind::protocol:
            return "protocol";
        case ErrorKind::network:
            return "network";
        case ErrorKind::not_found:
            return "not_found";
        case ErrorKind::unsatisfiable:
            return "unsatisfiable";
        case ErrorKind::io:
            return "io";
        case ErrorKind::conflict:
            return "conflict";
        case ErrorKind::internal:
            return "internal";
    }
    return "?";
}

ExitCode exit_code_for(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::bad_input:
            return ExitCode::bad_input;
        case ErrorKind::unsatisfiable:
            return ExitCode::unsatisfiable;
        default:
            return ExitCode::failure;
    }
}

bool is_transient_http_status(long status) {
    return status == 408 || status == 429 || (status >= 500 && status != 501 && status != 505);
}

ErrorKind error_kind_for_http_status(long status) {
    if (status == 401 || status == 403) {
        return ErrorKind::auth;
    }
    if (status == 404 || status == 410) {
        return ErrorKind::not_found;
    }
    if (status == 409) {
        return ErrorKind::conflict;
    }
    if (is_transient_http_status(status)) {
        return ErrorKind::transient;
    }
    return ErrorKind::failure;
}

std::string format_parse_error(std::string_view file, int line, int column,
                               std::string_view message, std::string_view line_text) {
    std::string out = fmt::format("{}:{}:{}: {}", file, line, column, message);
    if (!line_text.empty()) {
        out +=
            fmt::format("\n  {}\n  {}^", line_text, std::string(column > 1 ? column - 1 : 0, ' '));
    }
    return out;
}

void throw_errno(std::string_view operation, std::string_view operand, int err, std::string hint) {
    std::string message = fmt::format("{} `{}`: {}", operation, operand, std::strerror(err));
    if (err == ENOENT || err == ENOTDIR) {
        // A path the user named that is not there: bad input (exit 2), of kind not_found.
        throw Error(ErrorKind::not_found, std::move(message), std::move(hint))
            .with_exit_code(ExitCode::bad_input);
    }
    if (err == EEXIST || err == EBUSY) {
        throw Error(ErrorKind::conflict, std::move(message), std::move(hint));
    }
    throw Error(ErrorKind::io, std::move(message), std::move(hint));
}

}  // namespace envpack
