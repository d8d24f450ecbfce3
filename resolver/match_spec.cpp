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

Error spec_error(std::string_view spec, std::string_view why) {
    return bad_input(fmt::format("invalid match spec `{}`: {}", spec, why),
                     "match specs look like numpy, numpy=1.7, numpy>=1.7,<2, numpy 1.7 py27_0, "
                     "conda-forge::numpy or numpy[version='>=1.7',build=py27*]");
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

// Parses `key=value, key='value', key="value"` (the inside of `[...]`).
std::vector<std::pair<std::string, std::string>> parse_brackets(std::string_view whole,
                                                                std::string_view s) {
    std::vector<std::pair<std::string, std::string>> out;
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
        if (k == i || k >= s.size() || s[k] != '=') {
            throw spec_error(whole, "key-value mismatch in brackets");
        }
        std::string key(s.substr(i, k - i));
        i = k + 1;
        std::string value;
        if (i < s.size() && (s[i] == '\'' || s[i] == '"')) {
            char quote = s[i++];
            size_t end = s.find(quote, i);
            if (end == std::string_view::npos) {
                throw spec_error(whole, "unterminated quote in brackets");
            }
            value = std::string(s.substr(i, end - i));
            i = end + 1;
        } else {
            size_t end = i;
            while (end < s.size() && s[end] != ',' && s[end] != ' ') {
                ++end;
            }
            value = std::string(s.substr(i, end - i));
            i = end;
        }
        if (value.empty()) {
            throw spec_error(whole, fmt::format("empty value for `{}` in brackets", key));
        }
        out.emplace_back(std::move(key), std::move(value));
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

bool channel_matches(std::string_view want, std::string_view have) {
    while (!want.empty() && want.back() == '/') {
        want.remove_suffix(1);
    }
    while (!have.empty() && have.back() == '/') {
        have.remove_suffix(1);
    }
    if (want == have) {
        return true;
    }
    // A channel name matches a channel URL ending in it, and the other way round.
    auto ends_with_component = [](std::string_view longer, std::string_view shorter) {
        return longer.size() > shorter.size() && longer.ends_with(shorter) &&
               longer[longer.size() - shorter.size() - 1] == '/';
    };
    return ends_with_component(have, want) || ends_with_component(want, have);
}

std::string quote_if_needed(std::string_view key, std::string_view value) {
    if (value.find_first_of(", =") != std::string_view::npos) {
        return fmt::format("{}='{}'", key, value);
    }
    return fmt::format("{}={}", key, value);
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) {
            out += sep;
        }
        out += s;
    }
    return out;
}

}  // namespace

MatchSpec MatchSpec::parse(std::string_view text) {
    std::string_view whole = text;
    std::string_view s = text;
    if (size_t hash = s.find('#'); hash != std::string_view::npos) {
        s = s.substr(0, hash);
    }
    s = trim(s);
    if (s.empty()) {
        throw spec_error(whole, "empty spec");
    }
    if (s.ends_with(".tar.bz2") || s.ends_with(".conda")) {
        throw spec_error(whole, "package file names and URLs are not accepted as match specs");
    }
    MatchSpec spec;
    std::string rest(s);

    // Brackets: the last `[` that has a `]` after it, up to the last `]`.
    std::vector<std::pair<std::string, std::string>> brackets;
    if (size_t close = rest.rfind(']'); close != std::string::npos) {
        size_t open = rest.rfind('[', close);
        if (open == std::string::npos) {
            throw spec_error(whole, "`]` without `[`");
        }
        brackets = parse_brackets(whole, std::string_view(rest).substr(open + 1, close - open - 1));
        rest.erase(open, close - open + 1);
    }
    if (rest.find('[') != std::string::npos || rest.find(']') != std::string::npos) {
        throw spec_error(whole, "multiple or unbalanced bracket sections");
    }

    // Channel and namespace: rsplit(":", 2).
    std::string_view r = trim(rest);
    std::optional<std::string> channel_str;
    if (size_t c2 = r.rfind(':'); c2 != std::string_view::npos) {
        size_t c1 = c2 == 0 ? std::string_view::npos : r.rfind(':', c2 - 1);
        if (c1 != std::string_view::npos) {
            channel_str = std::string(r.substr(0, c1));
        }
        r = r.substr(c2 + 1);
    }
    if (channel_str && !channel_str->empty() && *channel_str != "*") {
        std::string ch = *channel_str;
        for (auto sub : k_known_subdirs) {
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

    // Name: the leading run without spaces or operators.
    r = trim(r);
    size_t name_end = r.find_first_of(" =<>!~");
    std::string_view name = r.substr(0, name_end);
    if (name.empty()) {
        throw spec_error(whole, "no package name");
    }
    spec.m_name = std::string(name);
    std::string_view vb =
        name_end == std::string_view::npos ? std::string_view{} : trim(r.substr(name_end));

    if (!vb.empty()) {
        auto [version, build] = split_version_build(vb);
        if (version.empty()) {
            throw spec_error(whole, "empty version");
        }
        if (version == "==" || version == "=" || version.ends_with("=") || version.ends_with("<") ||
            version.ends_with(">")) {
            throw spec_error(whole, "operator without a version");
        }
        if (version.front() == '=') {
            std::string_view test = std::string_view(version).substr(1);
            if (version.starts_with("==") && build.empty()) {
                version = version.substr(2);
            } else if (test.find_first_of("=,|") == std::string_view::npos) {
                // `=1.7` is a prefix; `=1.7=build` (conda's export form) an exact version.
                if (build.empty() && test.back() != '*') {
                    version = std::string(test) + "*";
                } else {
                    version = std::string(test);
                }
            }
        }
        spec.m_version = VersionSpec::parse(version);
        spec.m_build = build;
    }

    for (auto& [key, value] : brackets) {
        if (key == "version") {
            spec.m_version = VersionSpec::parse(value);
        } else if (key == "build") {
            spec.m_build = value;
        } else if (key == "build_number") {
            BuildNumber bn;
            std::string_view v = value;
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
            if (res.ec != std::errc{} || res.ptr != v.data() + v.size()) {
                throw spec_error(whole, fmt::format("invalid build_number `{}`", value));
            }
            bn.text = value;
            spec.m_build_number = bn;
        } else if (key == "channel") {
            spec.m_channel = value;
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
            spec.m_license = value;
        } else if (key == "name") {
            spec.m_name = value;
        } else {
            throw spec_error(whole, fmt::format("cannot match on field `{}`", key));
        }
    }
    return spec;
}

bool MatchSpec::matches(const PackageRecord& record) const {
    Version v;
    if (!Version::try_parse(record.version, v)) {
        return false;
    }
    return matches(record, v);
}

bool MatchSpec::matches(const PackageRecord& record, const Version& version) const {
    if (!glob_matches(m_name, record.name)) {
        return false;
    }
    if (!m_version.is_any() && !m_version.matches(version)) {
        return false;
    }
    if (!m_build.empty() && !glob_matches(m_build, record.build)) {
        return false;
    }
    if (m_build_number) {
        std::int64_t b = record.build_number;
        std::int64_t w = m_build_number->value;
        const std::string& op = m_build_number->op;
        bool ok = op == "=="   ? b == w
                  : op == "!=" ? b != w
                  : op == "<"  ? b < w
                  : op == "<=" ? b <= w
                  : op == ">"  ? b > w
                               : b >= w;
        if (!ok) {
            return false;
        }
    }
    if (m_channel && !channel_matches(*m_channel, record.channel)) {
        return false;
    }
    if (m_subdir && *m_subdir != record.subdir) {
        return false;
    }
    auto contains_all = [](const std::vector<std::string>& want,
                           const std::vector<std::string>& have) {
        return std::all_of(want.begin(), want.end(), [&](const std::string& f) {
            return std::find(have.begin(), have.end(), f) != have.end();
        });
    };
    if (!contains_all(m_track_features, record.track_features) ||
        !contains_all(m_features, record.features)) {
        return false;
    }
    if ((m_md5 && *m_md5 != record.md5) || (m_sha256 && *m_sha256 != record.sha256) ||
        (m_fn && *m_fn != record.fn) || (m_url && *m_url != record.url) ||
        (m_license && *m_license != record.license)) {
        return false;
    }
    return true;
}

std::string MatchSpec::to_string() const {
    std::string out;
    std::vector<std::string> brackets;
    if (m_channel) {
        out += *m_channel;
        if (m_subdir) {
            out += "/" + *m_subdir;
        }
        out += "::";
    } else if (m_subdir) {
        brackets.push_back("subdir=" + *m_subdir);
    }
    out += m_name;
    bool version_exact = false;
    if (!m_version.is_any()) {
        std::string v = m_version.to_string();
        if (m_version.op() == VersionSpec::Op::eq) {
            out += "==" + m_version.operand().to_string();
            version_exact = true;
        } else if (v.find_first_of("><|,") != std::string::npos ||
                   m_version.op() == VersionSpec::Op::glob) {
            brackets.push_back(fmt::format("version='{}'", v));
        } else if (v.starts_with("!=") || v.starts_with("~=")) {
            if (!m_build.empty()) {
                brackets.push_back(fmt::format("version='{}'", v));
            } else {
                out += v;
            }
        } else {
            out += "=" + v.substr(0, v.size() - 2);  // a prefix, `1.7.*`
        }
    }
    if (!m_build.empty()) {
        if (m_build.find('*') == std::string::npos && version_exact) {
            out += "=" + m_build;
        } else {
            brackets.push_back(quote_if_needed("build", m_build));
        }
    }
    if (m_build_number) {
        brackets.push_back(quote_if_needed("build_number", m_build_number->text));
    }
    if (!m_track_features.empty()) {
        brackets.push_back(quote_if_needed("track_features", join(m_track_features, " ")));
    }
    if (!m_features.empty()) {
        brackets.push_back(quote_if_needed("features", join(m_features, " ")));
    }
    if (m_url) {
        brackets.push_back(quote_if_needed("url", *m_url));
    }
    if (m_md5) {
        brackets.push_back(quote_if_needed("md5", *m_md5));
    }
    if (m_sha256) {
        brackets.push_back(quote_if_needed("sha256", *m_sha256));
    }
    if (m_license) {
        brackets.push_back(quote_if_needed("license", *m_license));
    }
    if (m_fn) {
        brackets.push_back(quote_if_needed("fn", *m_fn));
    }
    if (!brackets.empty()) {
        out += "[" + join(brackets, ",") + "]";
    }
    return out;
}

}  // namespace envpack
