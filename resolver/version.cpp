#include "resolver/version.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/error.h"
#include "core/strings.h"

namespace envpack {
namespace {

using Atom = Version::Atom;
using Segment = Version::Segment;

bool is_valid_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '*' || c == '.' || c == '+' ||
           c == '!' || c == '_';
}

const Atom& zero_atom() {
    static const Atom k_zero{Atom::Kind::number, "0"};
    return k_zero;
}

std::strong_ordering compare_atoms(const Atom& a, const Atom& b) {
    if (a.kind != b.kind) {
        return a.kind <=> b.kind;  // string < number < post, as conda's mixed comparison does
    }
    switch (a.kind) {
        case Atom::Kind::post:
            return std::strong_ordering::equal;
        case Atom::Kind::number:
            if (a.text.size() != b.text.size()) {
                return a.text.size() <=> b.text.size();
            }
            return a.text.compare(b.text) <=> 0;
        case Atom::Kind::string:
            return a.text.compare(b.text) <=> 0;
    }
    return std::strong_ordering::equal;
}

std::strong_ordering compare_segment(const Segment& a, const Segment& b) {
    const size_t n = std::max(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        const Atom& x = i < a.size() ? a[i] : zero_atom();
        const Atom& y = i < b.size() ? b[i] : zero_atom();
        if (auto c = compare_atoms(x, y); c != 0) {
            return c;
        }
    }
    return std::strong_ordering::equal;
}

std::strong_ordering compare_segments(const std::vector<Segment>& a, const std::vector<Segment>& b,
                                      size_t limit = SIZE_MAX) {
    static const Segment k_empty;
    const size_t n = std::min(std::max(a.size(), b.size()), limit);
    for (size_t i = 0; i < n; ++i) {
        const Segment& x = i < a.size() ? a[i] : k_empty;
        const Segment& y = i < b.size() ? b[i] : k_empty;
        if (auto c = compare_segment(x, y); c != 0) {
            return c;
        }
    }
    return std::strong_ordering::equal;
}

// Splits a segment into runs of digits, runs of `*`, and runs of other characters.
bool split_segment(std::string_view seg, Segment& out) {
    if (seg.empty()) {
        return false;
    }
    size_t i = 0;
    while (i < seg.size()) {
        size_t j = i;
        Atom atom;
        if (std::isdigit(static_cast<unsigned char>(seg[i]))) {
            while (j < seg.size() && std::isdigit(static_cast<unsigned char>(seg[j]))) {
                ++j;
            }
            std::string_view digits = seg.substr(i, j - i);
            size_t nz = digits.find_first_not_of('0');
            atom.kind = Atom::Kind::number;
            atom.text = nz == std::string_view::npos ? "0" : std::string(digits.substr(nz));
        } else if (seg[i] == '*') {
            while (j < seg.size() && seg[j] == '*') {
                ++j;
            }
            atom.kind = Atom::Kind::string;
            atom.text = std::string(seg.substr(i, j - i));
        } else {
            while (j < seg.size() && !std::isdigit(static_cast<unsigned char>(seg[j])) &&
                   seg[j] != '*') {
                ++j;
            }
            atom.text = std::string(seg.substr(i, j - i));
            if (atom.text == "post") {
                atom.kind = Atom::Kind::post;
            } else {
                atom.kind = Atom::Kind::string;
                if (atom.text == "dev") {
                    atom.text = "DEV";  // '*' < 'DEV' < '_' < 'a'
                }
            }
        }
        out.push_back(std::move(atom));
        i = j;
    }
    if (out.front().kind != Atom::Kind::number) {
        out.insert(out.begin(), zero_atom());  // keep numbers and strings in phase
    }
    return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
        size_t pos = s.find(sep, start);
        if (pos == std::string_view::npos) {
            parts.push_back(s.substr(start));
            return parts;
        }
        parts.push_back(s.substr(start, pos - start));
        start = pos + 1;
    }
}

// Fills `out`; returns an error text, empty on success.
std::string parse_into(std::string_view text, Version& out, std::string& norm, std::uint64_t& epoch,
                       std::vector<Segment>& version, std::vector<Segment>& local) {
    std::string_view trimmed = trim(text);
    while (!trimmed.empty() && trimmed.back() == '*') {
        trimmed.remove_suffix(1);
    }
    norm.assign(trimmed);
    lower_in_place(norm);
    if (norm.empty()) {
        return "empty version string";
    }
    bool valid = std::all_of(norm.begin(), norm.end(), is_valid_char);
    if (!valid && norm.find('-') != std::string::npos && norm.find('_') == std::string::npos) {
        std::replace(norm.begin(), norm.end(), '-', '_');
        valid = std::all_of(norm.begin(), norm.end(), is_valid_char);
    }
    if (!valid) {
        return "invalid character(s)";
    }
    std::string_view rest = norm;
    auto bang = split(rest, '!');
    if (bang.size() > 2) {
        return "duplicated epoch separator '!'";
    }
    epoch = 0;
    if (bang.size() == 2) {
        if (bang[0].empty() || !std::all_of(bang[0].begin(), bang[0].end(),
                                            [](char c) { return c >= '0' && c <= '9'; })) {
            return "epoch must be an integer";
        }
        if (bang[0].size() > 18) {
            return "epoch too large";
        }
        epoch = std::stoull(std::string(bang[0]));
        rest = bang[1];
    }
    auto plus = split(rest, '+');
    if (plus.size() > 2) {
        return "duplicated local version separator '+'";
    }
    if (plus[0].empty()) {
        return "missing version before local version separator '+'";
    }
    version.clear();
    local.clear();
    auto split_parts = [](std::string_view s, std::vector<Segment>& segs,
                          bool keep_trailing_underscore) {
        std::string copy(s);
        bool trailing = keep_trailing_underscore && !copy.empty() && copy.back() == '_';
        if (trailing) {
            copy.pop_back();
        }
        std::replace(copy.begin(), copy.end(), '_', '.');
        auto parts = split(copy, '.');
        std::vector<std::string> owned(parts.begin(), parts.end());
        if (trailing) {
            owned.back() += "_";
        }
        for (const auto& p : owned) {
            Segment seg;
            if (!split_segment(p, seg)) {
                return false;
            }
            segs.push_back(std::move(seg));
        }
        return true;
    };
    if (!split_parts(plus[0], version, true)) {
        return "empty version component";
    }
    if (plus.size() == 2 && !split_parts(plus[1], local, false)) {
        return "empty version component";
    }
    (void)out;
    return {};
}

}  // namespace

void Version::set_fast_key() {
    m_has_fast_key = false;
    if (m_epoch != 0 || !m_local.empty() || m_version.size() > 4) {
        return;
    }
    std::uint64_t key = 0;
    for (size_t i = 0; i < 4; ++i) {
        std::uint64_t n = 0;
        if (i < m_version.size()) {
            const Segment& seg = m_version[i];
            if (seg.size() != 1 || seg[0].kind != Atom::Kind::number || seg[0].text.size() > 5) {
                return;
            }
            for (char c : seg[0].text) {
                n = n * 10 + static_cast<std::uint64_t>(c - '0');
            }
            if (n > 0xFFFF) {
                return;
            }
        }
        key = key << 16 | n;
    }
    m_fast_key = key;
    m_has_fast_key = true;
}

bool Version::try_parse(std::string_view text, Version& out) {
    Version v;
    std::string err = parse_into(text, v, v.m_normalized, v.m_epoch, v.m_version, v.m_local);
    if (!err.empty()) {
        return false;
    }
    v.set_fast_key();
    v.m_text = std::string(text);
    out = std::move(v);
    return true;
}

Version Version::parse(std::string_view text) {
    Version v;
    std::string err = parse_into(text, v, v.m_normalized, v.m_epoch, v.m_version, v.m_local);
    if (!err.empty()) {
        throw bad_input(fmt::format("invalid version `{}`: {}", text, err),
                        "conda versions look like 1.2.3, 1!2.0, 1.0rc1, 1.0.post1 or 1.0+local");
    }
    v.set_fast_key();
    v.m_text = std::string(text);
    return v;
}

std::strong_ordering Version::operator<=>(const Version& other) const {
    if (m_has_fast_key && other.m_has_fast_key) {
        return m_fast_key <=> other.m_fast_key;
    }
    if (m_epoch != other.m_epoch) {
        return m_epoch <=> other.m_epoch;
    }
    if (auto c = compare_segments(m_version, other.m_version); c != 0) {
        return c;
    }
    return compare_segments(m_local, other.m_local);
}

bool Version::starts_with(const Version& prefix) const {
    const std::vector<Segment>* t1 = &m_version;
    const std::vector<Segment>* t2 = &prefix.m_version;
    if (m_epoch != prefix.m_epoch) {
        return false;
    }
    if (!prefix.m_local.empty()) {
        if (compare_segments(m_version, prefix.m_version) != 0) {
            return false;
        }
        t1 = &m_local;
        t2 = &prefix.m_local;
    }
    if (t2->empty()) {
        return true;
    }
    const size_t nt = t2->size() - 1;
    // All segments but the last must be equal.
    for (size_t i = 0; i < nt; ++i) {
        static const Segment k_empty;
        const Segment& x = i < t1->size() ? (*t1)[i] : k_empty;
        if (compare_segment(x, (*t2)[i]) != 0) {
            return false;
        }
    }
    static const Segment k_empty;
    const Segment& v1 = nt < t1->size() ? (*t1)[nt] : k_empty;
    const Segment& v2 = (*t2)[nt];
    const size_t na = v2.size() - 1;
    // All atoms of the last segment but its last must be equal.
    for (size_t j = 0; j < na; ++j) {
        const Atom& a = j < v1.size() ? v1[j] : zero_atom();
        if (compare_atoms(a, v2[j]) != 0) {
            return false;
        }
    }
    const Atom& a1 = na < v1.size() ? v1[na] : zero_atom();
    const Atom& a2 = v2[na];
    if (a2.kind == Atom::Kind::string) {
        return a1.kind == Atom::Kind::string && a1.text.starts_with(a2.text);
    }
    return compare_atoms(a1, a2) == 0;
}

bool Version::compatible_with(const Version& other) const {
    if (*this < other) {
        return false;
    }
    // Drop the last `.`-separated part of the written form, as conda does.
    const std::string& norm = other.m_normalized;
    size_t dot = norm.rfind('.');
    if (dot == std::string::npos) {
        return true;
    }
    Version prefix;
    if (!try_parse(norm.substr(0, dot), prefix)) {
        return true;
    }
    return starts_with(prefix);
}

}  // namespace envpack
