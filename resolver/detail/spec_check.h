// Syntax check of one conda match spec written in an environment file. Private to resolver/.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace envpack::detail {

// nullopt when `spec` is a well-formed match spec; otherwise why it is not.
std::optional<std::string> check_match_spec(std::string_view spec);

}  // namespace envpack::detail
