#include "core/error.h"

#include <cstring>

namespace envpack {

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
    ExitCode code = (err == ENOENT || err == ENOTDIR) ? ExitCode::bad_input : ExitCode::failure;
    throw Error(fmt::format("{} `{}`: {}", operation, operand, std::strerror(err)), std::move(hint),
                code);
}

}  // namespace envpack
