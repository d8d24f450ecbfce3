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

bool MatchSpec::BuildNumber::matches(std::int64_t b) const {
    if (op == "*") {
        return true;
    }
    if (op == "regex") {
        return regex.matches(std::to_string(b));
    }
    return op == "=="   ? b == value
           : op == "!=" ? b != value
           : op == "<"  ? b < value
           : op == "<=" ? b <= value
           : op == ">"  ? b > value
                        : b >= value;
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
    if (!m_build.empty() && !m_build.matches(record.build)) {
        return false;
    }
    if (m_build_number && !m_build_number->matches(record.build_number)) {
        return false;
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
        (m_license && !m_license->matches(record.license))) {
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
                   m_version.op() == VersionSpec::Op::glob ||
                   m_version.op() == VersionSpec::Op::regex) {
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
        if (m_build.kind() == StringPattern::Kind::exact && version_exact) {
            out += "=" + m_build.to_string();
        } else {
            brackets.push_back(quote_if_needed("build", m_build.to_string()));
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
    if (m_url && !m_channel) {  // conda leaves out a URL the channel already says
        brackets.push_back(quote_if_needed("url", *m_url));
    }
    if (m_md5) {
        brackets.push_back(quote_if_needed("md5", *m_md5));
    }
    if (m_sha256) {
        brackets.push_back(quote_if_needed("sha256", *m_sha256));
    }
    if (m_license) {
        brackets.push_back(quote_if_needed("license", m_license->to_string()));
    }
    if (m_fn && !m_url) {  // and a file name the URL already holds
        brackets.push_back(quote_if_needed("fn", *m_fn));
    }
    if (!brackets.empty()) {
        out += "[" + join(brackets, ",") + "]";
    }
    return out;
}

}  // namespace envpack
