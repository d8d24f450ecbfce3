// The project's one error type, and the exit codes the command line documents.
//
// Everything that is not an expected outcome throws `envpack::Error`: a message that names the
// operation and its operands, a hint that says what to do, the exit code the process ends with,
// and a kind set where the error is raised. Code that decides something about a failure (retry
// it, fall back to a cache, ask for credentials) reads `kind()` (and `http_status()` where an HTTP
// answer caused it), never the message text. Only cli/main.cpp catches errors to print them.
// Expected outcomes (unsatisfiable, not found) are values instead.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace envpack {

enum class ExitCode : int {
    ok = 0,
    failure = 1,        // I/O, network, runtime failures
    bad_input = 2,      // usage errors and malformed input (with file:line:column where it applies)
    unsatisfiable = 3,  // the environment cannot be solved
    // `envpack run` (as `docker run` and `timeout`): otherwise it exits with the job's code.
    run_timeout = 124,           // limits.timeout ended the job
    run_failed = 125,            // envpack's own failure before the job started
    command_not_runnable = 126,  // the command exists in the image but cannot be executed
    command_not_found = 127,     // the command is not in the image
};

// What went wrong, as the code that raised the error knows it. Callers branch on this.
enum class ErrorKind {
    failure,        // unclassified: the default of the plain constructor
    bad_input,      // the user's input or usage is wrong (exit 2)
    auth,           // credentials missing or refused (HTTP 401/403 that persists)
    transient,      // may succeed when tried again: connection refused/reset/timed out, 408, 429,
                    // 5xx; HttpClient has already retried it as often as it was allowed to
    protocol,       // the server broke the protocol: wrong bytes, wrong range, malformed answer
    network,        // no answer and no point in retrying: DNS, TLS handshake or certificate
    not_found,      // what was named does not exist (a 404, a missing file)
    unsatisfiable,  // the environment cannot be solved (exit 3)
    io,             // local disk or system call failure
    conflict,       // a concurrent writer or existing state prevents the operation
    internal,       // a bug: an invariant of envpack itself does not hold
};

// "transient", "auth", ... (for logs and tests).
std::string_view to_string(ErrorKind kind);

// The exit code an error of `kind` ends the process with unless one is given: bad_input 2,
// unsatisfiable 3, everything else 1.
ExitCode exit_code_for(ErrorKind kind);

class Error : public std::runtime_error {
  public:
    // Source-compatible constructor: the kind follows from the code (bad_input, unsatisfiable,
    // else failure).
    explicit Error(std::string message, std::string hint = {}, ExitCode code = ExitCode::failure)
        : std::runtime_error(std::move(message)),
          m_hint(std::move(hint)),
          m_code(code),
          m_kind(code == ExitCode::bad_input       ? ErrorKind::bad_input
                 : code == ExitCode::unsatisfiable ? ErrorKind::unsatisfiable
                                                   : ErrorKind::failure) {}
    // An error of `kind`; the exit code is exit_code_for(kind).
    Error(ErrorKind kind, std::string message, std::string hint = {})
        : std::runtime_error(std::move(message)),
          m_hint(std::move(hint)),
          m_code(exit_code_for(kind)),
          m_kind(kind) {}

    const std::string& hint() const { return m_hint; }
    ExitCode code() const { return m_code; }
    ErrorKind kind() const { return m_kind; }
    // The HTTP status of the answer that caused the error, when one did.
    std::optional<long> http_status() const { return m_http_status; }

    // Returns a copy whose message is prefixed with `context: ` (errors gain context on the way
    // up). Kind, code and HTTP status are kept.
    Error with_context(std::string_view context) const {
        Error out(fmt::format("{}: {}", context, what()), m_hint, m_code);
        out.m_kind = m_kind;
        out.m_http_status = m_http_status;
        return out;
    }
    // Returns a copy that carries `status` (the HTTP answer behind the error).
    Error with_http_status(long status) const {
        Error out = *this;
        out.m_http_status = status;
        return out;
    }
    // Returns a copy that ends the process with `code` (the kind is kept).
    Error with_exit_code(ExitCode code) const {
        Error out = *this;
        out.m_code = code;
        return out;
    }

  private:
    std::string m_hint;
    ExitCode m_code;
    ErrorKind m_kind;
    std::optional<long> m_http_status;
};

// A usage or input error (exit code 2).
inline Error bad_input(std::string message, std::string hint = {}) {
    return Error(ErrorKind::bad_input, std::move(message), std::move(hint));
}
// Factories for the other kinds (exit code from the kind).
inline Error auth_error(std::string message, std::string hint = {}) {
    return Error(ErrorKind::auth, std::move(message), std::move(hint));
}
inline Error transient_error(std::string message, std::string hint = {}) {
    return Error(ErrorKind::transient, std::move(message), std::move(hint));
}
inline Error protocol_error(std::string message, std::string hint = {}) {
    return Error(ErrorKind::protocol, std::move(message), std::move(hint));
}
inline Error not_found_error(std::string message, std::string hint = {}) {
    return Error(ErrorKind::not_found, std::move(message), std::move(hint));
}
inline Error internal_error(std::string message) {
    return Error(ErrorKind::internal, std::move(message),
                 "this is a bug in envpack; please report it");
}

// Whether an HTTP status is worth sending the same request again for: 408, 429 and 5xx except
// 501 (not implemented) and 505 (version not supported).
bool is_transient_http_status(long status);

// The kind an HTTP error status stands for: 401/403 auth, 404/410 not_found, 409 conflict,
// transient statuses (above) transient, anything else failure.
ErrorKind error_kind_for_http_status(long status);

// Formats a parse error the way compilers and ninja do:
//   file:line:column: message
//     the offending line
//     ^
// `line` and `column` are 1-based; `line_text` may be empty when the source is not at hand.
std::string format_parse_error(std::string_view file, int line, int column,
                               std::string_view message, std::string_view line_text);

// Throws Error(message from errno) naming the operation and operand: "open `path`: No such file".
// Kind not_found (exit 2) for ENOENT/ENOTDIR, conflict for EEXIST/EBUSY, io otherwise.
[[noreturn]] void throw_errno(std::string_view operation, std::string_view operand, int err,
                              std::string hint = {});

}  // namespace envpack
