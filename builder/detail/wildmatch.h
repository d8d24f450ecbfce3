// git's wildmatch (wildmatch.c) over a NUL-terminated pattern and a length-delimited text, plus
// the compile step that lets the ignore engine skip work git repeats on every call.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "builder/ignore.h"

namespace envpack::detail {

enum WildmatchResult { wm_match = 0, wm_nomatch = 1, wm_abort_all = -1, wm_abort_to_starstar = -2 };

// git's dowild(): `pattern` must be NUL-terminated (and hold no NUL before its end).
int dowild(const unsigned char* pattern, const unsigned char* text, const unsigned char* text_end,
           WildmatchMode mode);

// A glob prepared for repeated matching. Same meaning as the source glob, but runs of three or
// more '*' are shortened to two (git treats every run of two or more alike), a glob that can
// never match (an unclosed '[' or an unknown [:class:], which make git abort) is flagged, and the
// least number of text bytes any match consumes is known.
struct CompiledGlob {
    std::string glob;
    bool never_matches = false;
    size_t min_text = 0;
};

CompiledGlob compile_glob(std::string_view glob);

}  // namespace envpack::detail
