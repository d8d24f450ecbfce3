// Base64 (RFC 4648, standard alphabet, `=` padding): HTTP Basic credentials (registry auth,
// .netrc) and docker config `auth` entries.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace envpack {

std::string base64_encode(std::string_view data);
// nullopt when `text` is not base64 (line breaks are skipped).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace envpack
