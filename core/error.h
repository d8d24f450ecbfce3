// The project's one error type, and the exit codes the command line documents.
//
// Everything that is not an expected outcome throws `envpack::Error`: a message that names the
// operation and its operands, a hint that says what to do, and the exit code the process ends with.
// Only cli/main.cpp catches it. Expected outcomes (unsatisfiable, not found) are values instead.
#pragma once

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
    run_timeout = 124,         // limits.timeout ended the job
    run_failed = 125,          // envpack's own failure before the job started
    command_not_runnable = 126,  // the command exists in the image but cannot be executed
    command_not_found = 127,     // the command is not in the image
};

class Error : public std::runtime_error {
  public:
    explicit Error(std::string message, std::string hint = {}, ExitCode code = ExitCode::failure)
        : std::runtime_error(std::move(message)), m_hint(std::move(hint)), m_code(code) {}

    const std::string& hint() const { return m_hint; }
    ExitCode code() const { return m_code; }

    // Returns a copy whose message is prefixed with `context: ` (errors gain context on the way
    // up).
    Error with_context(std::string_view context) const {
        return Error(fmt::format("{}: {}", context, what()), m_hint, m_code);
    }

  private:
    std::string m_hint;
    ExitCode m_code;
};

// A usage or input error (exit code 2).
inline Error bad_input(std::string message, std::string hint = {}) {
    return Error(std::move(message), std::move(hint), ExitCode::bad_input);
}

// Formats a parse error the way compilers and ninja do:
//   file:line:column: message
//     the offending line
//     ^
// `line` and `column` are 1-based; `line_text` may be empty when the source is not at hand.
std::string format_parse_error(std::string_view file, int line, int column,
                               std::string_view message, std::string_view line_text);

// Throws Error(message from errno) naming the operation and operand: "open `path`: No such file".
[[noreturn]] void throw_errno(std::string_view operation, std::string_view operand, int err,
                              std::string hint = {});

}  // namespace envpack
