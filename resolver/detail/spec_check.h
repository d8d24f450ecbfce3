// Syntax check of one conda match spec written in an environment file. Private to resolver/.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/string_pattern.h"  // SpecSyntaxError

namespace envpack::detail {

struct SpecCheck {
    std::optional<SpecSyntaxError> error;  // why it does not parse, and where in the spec
    std::vector<std::string> warnings;     // forms conda reads differently or deprecates
};

SpecCheck check_match_spec(std::string_view spec);

}  // namespace envpack::detail
