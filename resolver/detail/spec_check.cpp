#include "resolver/detail/spec_check.h"

#include "resolver/match_spec.h"

namespace envpack::detail {

SpecCheck check_match_spec(std::string_view spec) {
    SpecCheck out;
    auto parsed = MatchSpec::try_parse(spec, &out.warnings);
    if (!parsed) {
        out.error = parsed.error();
    }
    return out;
}

}  // namespace envpack::detail
