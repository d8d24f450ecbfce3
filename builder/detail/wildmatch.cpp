// A transcription of git's wildmatch.c (Rich Salz's wildmat, as extended by Wayne Davison for
// rsync and by git for "**"), with the text delimited by an end pointer instead of a NUL, and
// git's own ctype table (sane_ctype: ASCII only, isspace is " \t\n\r" without \v and \f).
#include "builder/detail/wildmatch.h"

#include <cstring>

namespace envpack::detail {
namespace {

using uchar = unsigned char;

bool is_glob_special(uchar c) {
    return c == '*' || c == '?' || c == '[' || c == '\\';
}
bool is_ascii(uchar c) {
    return c < 0x80;
}
bool is_digit(uchar c) {
    return c >= '0' && c <= '9';
}
bool is_upper(uchar c) {
    return c >= 'A' && c <= 'Z';
}
bool is_lower(uchar c) {
    return c >= 'a' && c <= 'z';
}
bool is_alpha(uchar c) {
    return is_upper(c) || is_lower(c);
}
bool is_alnum(uchar c) {
    return is_alpha(c) || is_digit(c);
}
bool is_space(uchar c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_blank(uchar c) {
    return c == ' ' || c == '\t';
}
bool is_cntrl(uchar c) {
    return c < 0x20 || c == 0x7f;
}
bool is_print(uchar c) {
    return c >= 0x20 && c <= 0x7e;
}
bool is_graph(uchar c) {
    return c > 0x20 && c <= 0x7e;
}
bool is_punct(uchar c) {
    return is_graph(c) && !is_alnum(c);
}
bool is_xdigit(uchar c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool class_is(const uchar* s, int len, const char* name) {
    return static_cast<size_t>(len) == std::strlen(name) &&
           std::memcmp(s, name, static_cast<size_t>(len)) == 0;
}

const uchar* find_slash(const uchar* text, const uchar* end) {
    return static_cast<const uchar*>(std::memchr(text, '/', static_cast<size_t>(end - text)));
}

}  // namespace

int dowild(const uchar* p, const uchar* text, const uchar* text_end, WildmatchMode mode) {
    const bool pathname = mode == WildmatchMode::pathname;
    const uchar* pattern = p;
    uchar p_ch;
    for (; (p_ch = *p) != '\0'; ++text, ++p) {
        int matched;
        bool match_slash;
        int negated;
        uchar t_ch = text < text_end ? *text : 0;
        uchar prev_ch;
        if (t_ch == '\0' && p_ch != '*') {
            return wm_abort_all;
        }
        switch (p_ch) {
            case '\\':
                // Literal match with the next byte; "default" handles a pattern ending in '\'.
                p_ch = *++p;
                [[fallthrough]];
            default:
                if (t_ch != p_ch) {
                    return wm_nomatch;
                }
                continue;
            case '?':
                if (pathname && t_ch == '/') {
                    return wm_nomatch;
                }
                continue;
            case '*':
                if (*++p == '*') {
                    const uchar* prev_p = p - 2;
                    while (*++p == '*') {
                    }
                    if (!pathname) {
                        match_slash = true;
                    } else if ((prev_p < pattern || *prev_p == '/') &&
                               (*p == '\0' || *p == '/' || (p[0] == '\\' && p[1] == '/'))) {
                        // "**/" may match nothing: try the rest of the pattern right here.
                        if (p[0] == '/' && dowild(p + 1, text, text_end, mode) == wm_match) {
                            return wm_match;
                        }
                        match_slash = true;
                    } else {
                        match_slash = false;
                    }
                } else {
                    match_slash = !pathname;
                }
                if (*p == '\0') {
                    // A trailing "**" matches everything, a trailing "*" only without a further
                    // '/'.
                    if (!match_slash && find_slash(text, text_end) != nullptr) {
                        return wm_nomatch;
                    }
                    return wm_match;
                } else if (!match_slash && *p == '/') {
                    // One '*' followed by '/' matches up to the next directory separator.
                    const uchar* slash = find_slash(text, text_end);
                    if (slash == nullptr) {
                        return wm_nomatch;
                    }
                    text = slash;
                    break;  // the slash is consumed by the loop
                }
                while (true) {
                    if (t_ch == '\0') {
                        break;
                    }
                    // Skip ahead to the next occurrence of a literal that follows the '*'.
                    if (!is_glob_special(*p)) {
                        p_ch = *p;
                        while (text < text_end && (t_ch = *text, match_slash || t_ch != '/')) {
                            if (t_ch == p_ch) {
                                break;
                            }
                            ++text;
                        }
                        if (text >= text_end) {
                            t_ch = 0;
                        }
                        if (t_ch != p_ch) {
                            return wm_nomatch;
                        }
                    }
                    if ((matched = dowild(p, text, text_end, mode)) != wm_nomatch) {
                        if (!match_slash || matched != wm_abort_to_starstar) {
                            return matched;
                        }
                    } else if (!match_slash && t_ch == '/') {
                        return wm_abort_to_starstar;
                    }
                    ++text;
                    t_ch = text < text_end ? *text : 0;
                }
                return wm_abort_all;
            case '[':
                p_ch = *++p;
                if (p_ch == '^') {
                    p_ch = '!';
                }
                negated = p_ch == '!' ? 1 : 0;
                if (negated != 0) {
                    p_ch = *++p;
                }
                prev_ch = 0;
                matched = 0;
                do {
                    if (p_ch == '\0') {
                        return wm_abort_all;
                    }
                    if (p_ch == '\\') {
                        p_ch = *++p;
                        if (p_ch == '\0') {
                            return wm_abort_all;
                        }
                        if (t_ch == p_ch) {
                            matched = 1;
                        }
                    } else if (p_ch == '-' && prev_ch != 0 && p[1] != '\0' && p[1] != ']') {
                        p_ch = *++p;
                        if (p_ch == '\\') {
                            p_ch = *++p;
                            if (p_ch == '\0') {
                                return wm_abort_all;
                            }
                        }
                        if (t_ch <= p_ch && t_ch >= prev_ch) {
                            matched = 1;
                        }
                        p_ch = 0;  // makes prev_ch 0: no range may start here
                    } else if (p_ch == '[' && p[1] == ':') {
                        const uchar* s;
                        for (s = p += 2; (p_ch = *p) != '\0' && p_ch != ']'; ++p) {
                        }
                        if (p_ch == '\0') {
                            return wm_abort_all;
                        }
                        int i = static_cast<int>(p - s - 1);
                        if (i < 0 || p[-1] != ':') {
                            // No ":]": the '[' is an ordinary member.
                            p = s - 2;
                            p_ch = '[';
                            if (t_ch == p_ch) {
                                matched = 1;
                            }
                            continue;
                        }
                        bool hit = false;
                        if (class_is(s, i, "alnum")) {
                            hit = is_alnum(t_ch);
                        } else if (class_is(s, i, "alpha")) {
                            hit = is_alpha(t_ch);
                        } else if (class_is(s, i, "blank")) {
                            hit = is_blank(t_ch);
                        } else if (class_is(s, i, "cntrl")) {
                            hit = is_cntrl(t_ch);
                        } else if (class_is(s, i, "digit")) {
                            hit = is_digit(t_ch);
                        } else if (class_is(s, i, "graph")) {
                            hit = is_graph(t_ch);
                        } else if (class_is(s, i, "lower")) {
                            hit = is_lower(t_ch);
                        } else if (class_is(s, i, "print")) {
                            hit = is_print(t_ch);
                        } else if (class_is(s, i, "punct")) {
                            hit = is_punct(t_ch);
                        } else if (class_is(s, i, "space")) {
                            hit = is_space(t_ch);
                        } else if (class_is(s, i, "upper")) {
                            hit = is_upper(t_ch);
                        } else if (class_is(s, i, "xdigit")) {
                            hit = is_xdigit(t_ch);
                        } else {
                            return wm_abort_all;  // malformed [:class:]
                        }
                        if (hit && is_ascii(t_ch)) {
                            matched = 1;
                        }
                        p_ch = 0;
                    } else if (t_ch == p_ch) {
                        matched = 1;
                    }
                } while (prev_ch = p_ch, (p_ch = *++p) != ']');
                if (matched == negated || (pathname && t_ch == '/')) {
                    return wm_nomatch;
                }
                continue;
        }
    }
    return text < text_end ? wm_nomatch : wm_match;
}

CompiledGlob compile_glob(std::string_view g) {
    CompiledGlob out;
    out.glob.reserve(g.size());
    const size_t n = g.size();
    size_t i = 0;
    bool after_stars = false;
    auto verbatim_rest = [&](size_t from) {
        out.glob.append(g.substr(from));
        out.never_matches = true;
    };
    while (i < n) {
        char c = g[i];
        if (c == '*') {
            size_t j = i;
            while (j < n && g[j] == '*') {
                ++j;
            }
            out.glob.append(j - i >= 3 ? 2 : j - i, '*');
            i = j;
            after_stars = true;
            continue;
        }
        if (c == '\\') {
            out.glob.append(g.substr(i, 2));
            // A trailing '\' must meet a NUL text byte, which paths never hold.
            if (i + 1 >= n) {
                out.never_matches = true;
            }
            ++out.min_text;
            i += 2;
            after_stars = false;
            continue;
        }
        if (c == '[') {
            // Mirror dowild's parse of a bracket expression to find where it ends.
            size_t j = i + 1;
            if (j < n && (g[j] == '!' || g[j] == '^')) {
                ++j;
            }
            char prev = 0;
            bool malformed = false;
            while (true) {
                if (j >= n) {
                    malformed = true;
                    break;
                }
                char pc = g[j];
                if (pc == '\\') {
                    if (++j >= n) {
                        malformed = true;
                        break;
                    }
                    prev = g[j];
                } else if (pc == '-' && prev != 0 && j + 1 < n && g[j + 1] != ']') {
                    ++j;
                    if (g[j] == '\\' && ++j >= n) {
                        malformed = true;
                        break;
                    }
                    prev = 0;
                } else if (pc == '[' && j + 1 < n && g[j + 1] == ':') {
                    size_t s = j + 2;
                    size_t k = s;
                    while (k < n && g[k] != ']') {
                        ++k;
                    }
                    if (k >= n) {
                        malformed = true;
                        break;
                    }
                    if (k < s + 1 || g[k - 1] != ':') {
                        prev = '[';  // an ordinary '[' member; parsing resumes after it
                    } else {
                        std::string_view name = g.substr(s, k - s - 1);
                        static constexpr std::string_view k_classes[] = {
                            "alnum", "alpha", "blank", "cntrl", "digit", "graph",
                            "lower", "print", "punct", "space", "upper", "xdigit"};
                        bool known = false;
                        for (auto cls : k_classes) {
                            known = known || cls == name;
                        }
                        if (!known) {
                            malformed = true;
                            break;
                        }
                        j = k;
                        prev = 0;
                    }
                } else {
                    prev = pc;
                }
                if (++j >= n) {
                    malformed = true;
                    break;
                }
                if (g[j] == ']') {
                    break;
                }
            }
            if (malformed) {
                verbatim_rest(i);
                return out;
            }
            out.glob.append(g.substr(i, j + 1 - i));
            ++out.min_text;
            i = j + 1;
            after_stars = false;
            continue;
        }
        out.glob.push_back(c);
        // A '/' right after "**" may be skipped by the "**/" shortcut: it need not consume text.
        if (!(c == '/' && after_stars)) {
            ++out.min_text;
        }
        after_stars = false;
        ++i;
    }
    return out;
}

}  // namespace envpack::detail
