// Writing YAML scalars by hand so generated files are deterministic and read back as strings by
// any YAML reader (yaml-cpp, PyYAML, ruamel). Private to resolver/.
#pragma once

#include <string>
#include <string_view>

namespace envpack::detail {

// `s` as a plain scalar when that is unambiguous, else single-quoted (`'` doubled). Numbers,
// booleans, null-likes, empty strings and anything with YAML punctuation are quoted.
std::string yaml_quote(std::string_view s);

// The 1-based line `line` of `text` without its newline ("" when out of range).
std::string_view text_line(std::string_view text, int line);

}  // namespace envpack::detail
