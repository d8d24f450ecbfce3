#include "resolver/detail/spec_check.h"

#include <cctype>

#include <fmt/format.h>

namespace envpack::detail {

// A structural check until MatchSpec::parse (resolver/match_spec.h) is merged in.
std::optional<std::string> check_match_spec(std::string_view spec) {
    if (spec.empty()) {
        return "empty spec";
    }
    int depth = 0;
    for (char c : spec) {
        if (c == '[') {
            ++depth;
        } else if (c == ']') {
            if (--depth < 0) {
                return "unbalanced `]`";
            }
        } else if (c == '\t' || c == '\n') {
            return "control character in spec";
        }
    }
    if (depth != 0) {
        return "unbalanced `[`";
    }
    char first = spec.front();
    if (!(std::isalnum(static_cast<unsigned char>(first)) || first == '_' || first == '*')) {
        return fmt::format("a spec starts with a package name, not `{}`", first);
    }
    return std::nullopt;
}

}  // namespace envpack::detail
