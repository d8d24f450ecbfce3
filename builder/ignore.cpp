// gitignore(5) semantics, transcribed from git 2.39's dir.c: add_patterns_from_buffer,
// trim_trailing_spaces, parse_path_pattern, match_basename, match_pathname and
// last_matching_pattern_from_list(s). The helper names below follow git's where they do the same.
#include "builder/ignore.h"

#include <cstring>
#include <utility>

#include "builder/detail/wildmatch.h"

namespace envpack {
namespace {

bool is_glob_special(char c) {
    return c == '*' || c == '?' || c == '[' || c == '\\';
}

size_t simple_length(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && !is_glob_special(s[i])) {
        ++i;
    }
    return i;
}

// Drops trailing spaces unless escaped with '\'. A line ending in a lone '\' is left as is.
std::string_view trim_trailing_spaces(std::string_view line) {
    size_t last_space = std::string_view::npos;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (c == ' ') {
            if (last_space == std::string_view::npos) {
                last_space = i;
            }
            continue;
        }
        if (c == '\\') {
            ++i;
            if (i >= line.size()) {
                return line;
            }
        }
        last_space = std::string_view::npos;
    }
    return last_space == std::string_view::npos ? line : line.substr(0, last_space);
}

// What matching needs beyond the public fields; kept beside each pattern in IgnoreFile.
struct Compiled {
    detail::CompiledGlob glob;  // basename patterns: the body; path patterns: after the prefix
    size_t prefix = 0;          // path patterns: literal prefix after a leading '/' is dropped
};

Compiled compile(const IgnorePattern& p) {
    Compiled c;
    if (p.basename_only) {
        c.glob = detail::compile_glob(p.body);
        return c;
    }
    std::string_view body = p.body;
    size_t prefix = p.literal_prefix;
    if (!body.empty() && body[0] == '/') {
        body.remove_prefix(1);
        --prefix;
    }
    c.prefix = prefix;
    c.glob = detail::compile_glob(body.substr(prefix));
    return c;
}

bool glob_matches(const detail::CompiledGlob& g, std::string_view text, WildmatchMode mode) {
    if (g.never_matches || text.size() < g.min_text) {
        return false;
    }
    const auto* t = reinterpret_cast<const unsigned char*>(text.data());
    return detail::dowild(reinterpret_cast<const unsigned char*>(g.glob.c_str()), t,
                          t + text.size(), mode) == detail::wm_match;
}

bool match_basename(const IgnorePattern& p, const Compiled& c, std::string_view basename) {
    if (p.literal_prefix == p.body.size()) {
        return basename == p.body;
    }
    if (p.ends_with) {
        std::string_view suffix = std::string_view(p.body).substr(1);
        return basename.ends_with(suffix);
    }
    return glob_matches(c.glob, basename, WildmatchMode::basename);
}

bool match_pathname(const IgnorePattern& p, const Compiled& c, std::string_view name) {
    std::string_view body = p.body;
    if (!body.empty() && body[0] == '/') {
        body.remove_prefix(1);
    }
    if (c.prefix != 0) {
        if (c.prefix > name.size() || name.compare(0, c.prefix, body.substr(0, c.prefix)) != 0) {
            return false;
        }
        name.remove_prefix(c.prefix);
        if (c.prefix == body.size() && name.empty()) {
            return true;
        }
    }
    return glob_matches(c.glob, name, WildmatchMode::pathname);
}

bool pattern_matches(const IgnorePattern& p, const Compiled& c, std::string_view path,
                     std::string_view basename, PathKind kind) {
    if (p.directory_only && kind != PathKind::directory) {
        return false;
    }
    return p.basename_only ? match_basename(p, c, basename) : match_pathname(p, c, path);
}

std::string_view basename_of(std::string_view path) {
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

IgnorePattern parse_line(std::string_view line, int line_number) {
    IgnorePattern p;
    p.line = line_number;
    if (!line.empty() && line[0] == '!') {
        p.negative = true;
        line.remove_prefix(1);
    }
    if (!line.empty() && line.back() == '/') {
        line.remove_suffix(1);
        p.directory_only = true;
    }
    p.body = std::string(line);
    p.basename_only = line.find('/') == std::string_view::npos;
    p.literal_prefix = simple_length(line);
    p.ends_with =
        !line.empty() && line[0] == '*' && simple_length(line.substr(1)) == line.size() - 1;
    return p;
}

}  // namespace

// The compiled forms live beside the patterns so IgnorePattern stays a plain value type.
struct detail::IgnoreCompiled {
    std::vector<Compiled> items;
};

bool wildmatch(std::string_view pattern, std::string_view text, WildmatchMode mode) {
    std::string p(pattern.substr(0, pattern.find('\0')));
    const auto* t = reinterpret_cast<const unsigned char*>(text.data());
    return detail::dowild(reinterpret_cast<const unsigned char*>(p.c_str()), t, t + text.size(),
                          mode) == detail::wm_match;
}

std::string IgnorePattern::to_string() const {
    std::string s;
    if (negative) {
        s += '!';
    }
    s += body;
    if (directory_only) {
        s += '/';
    }
    return s;
}

bool IgnorePattern::matches(std::string_view relative_path, std::string_view basename,
                            PathKind kind) const {
    return pattern_matches(*this, compile(*this), relative_path, basename, kind);
}

IgnoreFile IgnoreFile::parse(std::string_view contents) {
    IgnoreFile f;
    static constexpr std::string_view k_bom = "\xEF\xBB\xBF";
    if (contents.starts_with(k_bom)) {
        contents.remove_prefix(k_bom.size());
    }
    int line_number = 1;
    size_t start = 0;
    while (start < contents.size()) {
        size_t nl = contents.find('\n', start);
        size_t end = nl == std::string_view::npos ? contents.size() : nl;
        std::string_view line = contents.substr(start, end - start);
        if (!line.empty() && line[0] != '#') {
            if (line.back() == '\r') {
                line.remove_suffix(1);
            }
            line = line.substr(0, line.find('\0'));
            line = trim_trailing_spaces(line);
            f.m_patterns.push_back(parse_line(line, line_number));
        }
        ++line_number;
        start = end + 1;
    }
    auto compiled = std::make_shared<detail::IgnoreCompiled>();
    compiled->items.reserve(f.m_patterns.size());
    for (const auto& p : f.m_patterns) {
        compiled->items.push_back(compile(p));
    }
    f.m_compiled = std::move(compiled);
    return f;
}

IgnoreVerdict IgnoreFile::match(std::string_view relative_path, PathKind kind) const {
    if (m_patterns.empty()) {
        return IgnoreVerdict::undecided;
    }
    const auto& compiled = m_compiled->items;
    std::string_view base = basename_of(relative_path);
    for (size_t i = m_patterns.size(); i-- > 0;) {
        if (pattern_matches(m_patterns[i], compiled[i], relative_path, base, kind)) {
            return m_patterns[i].negative ? IgnoreVerdict::included : IgnoreVerdict::excluded;
        }
    }
    return IgnoreVerdict::undecided;
}

IgnoreStack IgnoreStack::push(std::string dir, std::shared_ptr<const IgnoreFile> file) const {
    IgnoreStack s;
    s.m_top = std::make_shared<const Link>(Link{m_top, std::move(file), std::move(dir)});
    return s;
}

bool IgnoreStack::excluded(std::string_view path, PathKind kind) const {
    for (const Link* l = m_top.get(); l != nullptr; l = l->parent.get()) {
        std::string_view rel = path;
        if (!l->dir.empty()) {
            // Every path asked about lies under the directories of the stack's files.
            rel.remove_prefix(l->dir.size() + 1);
        }
        IgnoreVerdict v = l->file->match(rel, kind);
        if (v != IgnoreVerdict::undecided) {
            return v == IgnoreVerdict::excluded;
        }
    }
    return false;
}

size_t IgnoreStack::depth() const {
    size_t n = 0;
    for (const Link* l = m_top.get(); l != nullptr; l = l->parent.get()) {
        ++n;
    }
    return n;
}

}  // namespace envpack
