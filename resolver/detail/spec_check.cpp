#include "resolver/detail/spec_check.h"

#include "core/error.h"
#include "resolver/match_spec.h"

namespace envpack::detail {

std::optional<std::string> check_match_spec(std::string_view spec) {
    try {
        MatchSpec::parse(spec);
    } catch (const Error& e) {
        return std::string(e.what());
    }
    return std::nullopt;
}

}  // namespace envpack::detail
