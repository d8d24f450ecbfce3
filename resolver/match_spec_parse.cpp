// MatchSpec::parse and try_parse: the steps of conda's `_parse_spec_str` (match_spec.h says what
// is accepted), split from match_spec.cpp, which keeps matching and the canonical string.
#include "resolver/match_spec.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "core/error.h"
#include "core/strings.h"

namespace envpack {

namespace {

constexpr std::array<std::string_view, 17> k_known_subdirs = {
    "noarch",       "linux-64",      "linux-32",      "linux-aarch64",
    "linux-armv6l", "linux-armv7l",  "linux-ppc64le", "linux-ppc64",
    "linux-s390x",  "linux-riscv64", "osx-64",        "osx-arm64",
    "win-64",       "win-32",        "win-arm64",     "emscripten-wasm32",
    "wasi-wasm32"};

constexpr std::string_view k_hint =
    "match specs look like numpy, numpy=1.7, numpy>=1.7,<2, numpy 1.7 py27_0, "
    "conda-forge::numpy or numpy[version='>=1.7',build=py27*]";

struct Failure {
    SpecSyntaxError error;
};

[[noreturn]] void fail(std::string message, size_t offset) {
    throw Failure{SpecSyntaxError{std::move(message), offset}};
}

std::vector<std::string> split_features(std::string_view s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == ' ' || c == ',') {
            if (!cur.empty()) {
                out.push_back(std::move(cur));
                cur.clear();
            }
        } else {
            cur.push_back(c);
        }
    }
    if (!cur.empty()) {
        out.push_back(std::move(cur));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

struct BracketEntry {
    std::string key;
    std::string value;
    size_t offset = 0;      // of the value in the whole spec
    size_t key_offset = 0;  // of the key
};

// Parses `key=value, key='value', key="value"` (the inside of `[...]`, which starts at `base` in
// the whole spec). `key<value` (and the other operators) is read as `key='<value'` with a warning:
// conda's parser skips such an entry without a word.
std::vector<BracketEntry> parse_brackets(std::string_view s, size_t base,
                                         std::vector<std::string>* warnings) {
    std::vector<BracketEntry> out;
    size_t i = 0;
    while (true) {
        while (i < s.size() && (s[i] == ' ' || s[i] == ',')) {
            ++i;
        }
        if (i >= s.size()) {
            return out;
        }
        size_t k = i;
        while (k < s.size() &&
               (std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '_' || s[k] == '-')) {
            ++k;
        }
        if (k == i || k >= s.size() ||
            std::string_view("=<>!~").find(s[k]) == std::string_view::npos) {
            fail("key-value mismatch in brackets", base + i);
        }
        BracketEntry entry;
        entry.key = std::string(s.substr(i, k - i));
        entry.key_offset = base + i;
        bool operator_form = s[k] != '=' || (k + 1 < s.size() && s[k + 1] == '=');
        i = operator_form ? k : k + 1;
        if (i < s.size() && (s[i] == '\'' || s[i] == '"')) {
            char quote = s[i++];
            size_t end = s.find(quote, i);
            if (end == std::string_view::npos) {
                fail("unterminated quote in brackets", base + i - 1);
            }
            entry.value = std::string(s.substr(i, end - i));
            entry.offset = base + i;
            i = end + 1;
        } else {
            size_t end = i;
            while (end < s.size() && s[end] != ',' && s[end] != ' ') {
                ++end;
            }
            entry.value = std::string(s.substr(i, end - i));
            entry.offset = base + i;
            i = end;
        }
        if (entry.value.empty()) {
            fail(fmt::format("empty value for `{}` in brackets", entry.key), base + i);
        }
        if (operator_form && warnings != nullptr) {
            warnings->push_back(fmt::format(
                "`[{}{}]` is read as `[{}='{}']`; conda ignores a bracket entry without `=`",
                entry.key, entry.value, entry.key, entry.value));
        }
        out.push_back(std::move(entry));
    }
}

// conda's `_parse_version_plus_build`: splits "VERSION[ =]BUILD" at the first space or `=` that
// follows a version character and leaves a build without operators after it.
std::pair<std::string, std::string> split_version_build(std::string_view s) {
    static constexpr std::string_view k_no_before = "=!|,<>~";
    static constexpr std::string_view k_not_in_build = "-=,|<>~";
    for (size_t i = 1; i + 1 < s.size(); ++i) {
        if (s[i] != ' ' && s[i] != '=') {
            continue;
        }
        if (k_no_before.find(s[i - 1]) != std::string_view::npos) {
            continue;
        }
        std::string_view build = s.substr(i + 1);
        if (build.find_first_of(k_not_in_build) != std::string_view::npos) {
            continue;
        }
        build = trim(build);
        if (build.empty()) {
            continue;
        }
        std::string version;
        for (char c : s.substr(0, i)) {
            if (c != ' ') {
                version.push_back(c);
            }
        }
        return {version, std::string(build)};
    }
    std::string version;
    for (char c : s) {
        if (c != ' ') {
            version.push_back(c);
        }
    }
    return {version, {}};
}

}  // namespace

// The steps of conda's `_parse_spec_str`, with offsets into the whole spec for errors.
class MatchSpec::Parser {
  public:
    Parser(std::string_view whole, std::vector<std::string>* warnings)
        : m_whole(whole), m_warnings(warnings) {}

    MatchSpec run() {
        std::string_view s = m_whole;
        if (size_t hash = s.find('#'); hash != std::string_view::npos) {
            s = s.substr(0, hash);
        }
        if (size_t cond = s.find(" if "); cond != std::string_view::npos) {
            warn(fmt::format("the condition `{}` is ignored, as conda ignores it",
                             trim(s.substr(cond))));
            s = s.substr(0, cond);
        }
        s = trim(s);
        if (s.empty()) {
            fail("empty spec", 0);
        }
        MatchSpec spec;
        if (s.ends_with(".tar.bz2") || s.ends_with(".conda")) {
            return package_url(s);
        }
        if (s.ends_with('@') && s.find_first_of(" =<>![") == std::string_view::npos) {
            // conda's legacy feature spec: `mkl@` is `*[track_features=mkl]`.
            spec.m_track_features = split_features(s.substr(0, s.size() - 1));
            return spec;
        }

        // Brackets: from the first `[` to the last `]`, so that a quoted value may hold brackets
        // (`[build='^py27_[0-9]+$']`). The rest of the spec is kept as views for offsets.
        std::string_view rest = s;
        std::string_view tail;  // text after the brackets (conda allows it)
        std::vector<BracketEntry> brackets;
        if (size_t close = rest.rfind(']'); close != std::string_view::npos) {
            size_t open = rest.find('[');
            if (open == std::string_view::npos || open > close) {
                fail("`]` without `[`", offset_of(rest) + close);
            }
            brackets = parse_brackets(rest.substr(open + 1, close - open - 1),
                                      offset_of(rest) + open + 1, m_warnings);
            tail = trim(rest.substr(close + 1));
            rest = rest.substr(0, open);
        }
        if (size_t b = rest.find_first_of("[]"); b != std::string_view::npos) {
            fail("multiple or unbalanced bracket sections", offset_of(rest) + b);
        }
        if (size_t b = tail.find_first_of("[]"); b != std::string_view::npos) {
            fail("multiple or unbalanced bracket sections", offset_of(tail) + b);
        }
        // conda's `(target=..., optional)` section: dropped.
        for (std::string_view* part : {&rest, &tail}) {
            std::string_view p = trim(*part);
            if (p.ends_with(')')) {
                size_t open = p.rfind('(');
                std::string_view inner = open == std::string_view::npos ? p : p.substr(open);
                if (open != std::string_view::npos &&
                    (inner.find("target=") != std::string_view::npos ||
                     inner.find("optional") != std::string_view::npos)) {
                    warn(fmt::format("`{}` is ignored, as conda ignores it", inner));
                    p = p.substr(0, open);
                }
            }
            *part = p;
        }
        if (!tail.empty()) {
            fail(fmt::format("unexpected `{}` after the brackets", tail), offset_of(tail));
        }

        // Channel and namespace: rsplit(":", 2).
        std::string_view r = trim(rest);
        std::optional<std::string_view> channel_str;
        if (size_t c2 = r.rfind(':'); c2 != std::string_view::npos) {
            size_t c1 = c2 == 0 ? std::string_view::npos : r.rfind(':', c2 - 1);
            if (c1 != std::string_view::npos) {
                channel_str = r.substr(0, c1);
            }
            r = r.substr(c2 + 1);
        }
        if (channel_str) {
            set_channel(spec, *channel_str);
        }

        // Name: the leading run without spaces or operators.
        r = trim(r);
        size_t name_end = r.find_first_of(" =<>!~");
        std::string_view name = r.substr(0, name_end);
        if (name.empty()) {
            fail("no package name", offset_of(r));
        }
        spec.m_name = lower(name);
        std::string_view vb =
            name_end == std::string_view::npos ? std::string_view{} : trim(r.substr(name_end));
        if (!vb.empty()) {
            parse_version_build(spec, vb);
        }

        for (auto& entry : brackets) {
            apply_bracket(spec, entry);
        }
        return spec;
    }

  private:
    // conda's tarball specs: `https://host/CHANNEL/SUBDIR/NAME-VERSION-BUILD.conda` is that exact
    // package from that channel and subdir; a URL outside a channel layout matches by URL.
    MatchSpec package_url(std::string_view s) {
        if (s.find("://") == std::string_view::npos) {
            fail(
                "a package file is accepted as a URL (https://..., file:///...), not as a name "
                "or a path",
                offset_of(s));
        }
        MatchSpec spec;
        size_t slash = s.rfind('/');
        std::string_view fn = s.substr(slash + 1);
        std::string_view dir = s.substr(0, slash);
        spec.m_fn = std::string(fn);
        spec.m_url = std::string(s);
        std::string_view subdir = dir.substr(dir.rfind('/') + 1);
        bool in_channel = std::find(k_known_subdirs.begin(), k_known_subdirs.end(), subdir) !=
                          k_known_subdirs.end();
        if (!in_channel) {
            return spec;
        }
        std::string_view stem = fn.substr(0, fn.size() - (fn.ends_with(".conda") ? 6 : 8));
        size_t b = stem.rfind('-');
        size_t v = b == std::string_view::npos || b == 0 ? b : stem.rfind('-', b - 1);
        if (v == std::string_view::npos || v == 0) {
            fail(fmt::format("package file `{}` is not NAME-VERSION-BUILD", fn), offset_of(fn));
        }
        set_channel(spec, dir);
        spec.m_name = lower(stem.substr(0, v));
        spec.m_version = version_spec("==" + std::string(stem.substr(v + 1, b - v - 1)),
                                      offset_of(stem) + v + 1);
        spec.m_build = pattern("build", stem.substr(b + 1), offset_of(stem) + b + 1);
        return spec;
    }

    size_t offset_of(std::string_view part) const {
        return static_cast<size_t>(part.data() - m_whole.data());
    }

    void warn(std::string message) {
        if (m_warnings != nullptr) {
            m_warnings->push_back(fmt::format("match spec `{}`: {}", m_whole, message));
        }
    }

    static std::string lower(std::string_view s) {
        std::string out(s);
        std::transform(out.begin(), out.end(), out.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return out;
    }

    static void set_channel(MatchSpec& spec, std::string_view text) {
        std::string ch(text);
        while (!ch.empty() && ch.back() == '/') {
            ch.pop_back();
        }
        if (ch.empty()) {
            return;
        }
        for (auto sub : k_known_subdirs) {
            if (ch == sub) {
                break;
            }
            if (ch.size() > sub.size() && ch.ends_with(sub) &&
                ch[ch.size() - sub.size() - 1] == '/') {
                spec.m_subdir = std::string(sub);
                ch.resize(ch.size() - sub.size() - 1);
                break;
            }
        }
        if (ch != "*") {
            spec.m_channel = ch;
        }
    }

    VersionSpec version_spec(std::string_view text, size_t offset) {
        std::vector<std::string> found;
        auto v = VersionSpec::try_parse(text, &found);
        if (!v) {
            fail(fmt::format("invalid version `{}`: {}", text, v.error().message),
                 offset + v.error().offset);
        }
        for (auto& w : found) {
            warn(std::move(w));
        }
        return std::move(*v);
    }

    StringPattern pattern(std::string_view key, std::string_view text, size_t offset,
                          CaseFold fold = CaseFold::no) {
        auto p = StringPattern::parse(text, fold);
        if (!p) {
            fail(fmt::format("invalid {} `{}`: {}", key, text, p.error().message),
                 offset + p.error().offset);
        }
        return std::move(*p);
    }

    void parse_version_build(MatchSpec& spec, std::string_view vb) {
        size_t at = offset_of(vb);
        auto [version, build] = split_version_build(vb);
        if (version.empty()) {
            fail("empty version", at);
        }
        if (version == "==" || version == "=" || version.ends_with("=") || version.ends_with("<") ||
            version.ends_with(">")) {
            fail("operator without a version", at);
        }
        if (version.front() == '=') {
            std::string_view test = std::string_view(version).substr(1);
            if (version.starts_with("==") && build.empty()) {
                version = version.substr(2);
                ++at;
                ++at;
            } else if (test.find_first_of("=,|") == std::string_view::npos) {
                // `=1.7` is a prefix; `=1.7=build` (conda's export form) an exact version.
                if (build.empty() && test.back() != '*') {
                    version = std::string(test) + "*";
                } else {
                    version = std::string(test);
                }
                ++at;
            }
        }
        spec.m_version = version_spec(version, at);
        if (!build.empty()) {
            size_t b = vb.rfind(build);
            spec.m_build = pattern("build", build, b == std::string_view::npos ? at : at + b);
        }
    }

    void apply_bracket(MatchSpec& spec, const BracketEntry& entry) {
        const std::string& key = entry.key;
        const std::string& value = entry.value;
        if (key == "version") {
            spec.m_version = version_spec(value, entry.offset);
        } else if (key == "build") {
            spec.m_build = pattern(key, value, entry.offset);
        } else if (key == "build_number") {
            spec.m_build_number = build_number(value, entry.offset);
        } else if (key == "channel") {
            std::optional<std::string> subdir = spec.m_subdir;
            set_channel(spec, value);
            if (subdir && !spec.m_subdir) {
                spec.m_subdir = subdir;
            }
        } else if (key == "subdir") {
            spec.m_subdir = value;
        } else if (key == "track_features") {
            spec.m_track_features = split_features(value);
        } else if (key == "features") {
            spec.m_features = split_features(value);
        } else if (key == "md5") {
            spec.m_md5 = value;
        } else if (key == "sha256") {
            spec.m_sha256 = value;
        } else if (key == "fn") {
            spec.m_fn = value;
        } else if (key == "url") {
            spec.m_url = value;
        } else if (key == "license") {
            spec.m_license = pattern(key, value, entry.offset, CaseFold::yes);
        } else if (key == "name") {
            spec.m_name = lower(value);
        } else {
            fail(fmt::format("cannot match on field `{}` (fields: name, version, build, "
                             "build_number, channel, subdir, md5, sha256, fn, url, license, "
                             "track_features, features)",
                             key),
                 entry.key_offset);
        }
    }

    BuildNumber build_number(std::string_view value, size_t offset) {
        BuildNumber bn;
        bn.text = std::string(value);
        std::string_view v = trim(value);
        if (v == "*") {
            bn.op = "*";
            return bn;
        }
        if (v.starts_with('^') || v.ends_with('$')) {
            bn.op = "regex";
            bn.regex = pattern("build_number", v, offset);
            return bn;
        }
        for (std::string_view op : {"==", "!=", "<=", ">=", "<", ">", "="}) {
            if (v.starts_with(op)) {
                bn.op = op == "=" ? "==" : std::string(op);
                v.remove_prefix(op.size());
                break;
            }
        }
        if (bn.op.empty()) {
            bn.op = "==";
        }
        auto res = std::from_chars(v.data(), v.data() + v.size(), bn.value);
        if (v.empty() || res.ec != std::errc{} || res.ptr != v.data() + v.size()) {
            fail(fmt::format("invalid build_number `{}`: expected a number, `*`, an operator "
                             "and a number (`>=2`) or a regex `^...$`",
                             value),
                 offset);
        }
        return bn;
    }

    std::string_view m_whole;
    std::vector<std::string>* m_warnings;
};

std::expected<MatchSpec, SpecSyntaxError> MatchSpec::try_parse(std::string_view text,
                                                               std::vector<std::string>* warnings) {
    try {
        return Parser(text, warnings).run();
    } catch (const Failure& f) {
        return std::unexpected(f.error);
    }
}

MatchSpec MatchSpec::parse(std::string_view text) {
    auto spec = try_parse(text);
    if (!spec) {
        throw bad_input(fmt::format("invalid match spec `{}`: {} (at column {})", text,
                                    spec.error().message, spec.error().offset + 1),
                        std::string(k_hint));
    }
    return std::move(*spec);
}

}  // namespace envpack
