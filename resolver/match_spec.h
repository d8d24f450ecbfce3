// A conda match spec (CEP 29): which packages a dependency or a request accepts.
//
// Forms accepted (as conda's `MatchSpec`): `numpy`, `numpy 1.7*`, `numpy=1.7` (prefix),
// `numpy==1.7` (exact), `numpy>=1.7,<2|1.5.*`, `numpy 1.7 py27_0`, `numpy=1.7=py27*`
// (`name=VERSION=BUILD`: the version is then exact, as conda reads it), `conda-forge::numpy`,
// `conda-forge/linux-64::numpy`, brackets that override the rest
// (`numpy[version='>=1.7', build=py27*, build_number='>=2', channel=conda-forge, subdir=linux-64,
// md5=..., sha256=..., fn=..., url=..., license=...]`) and name globs with features
// (`*[track_features=mkl]`, or conda's legacy `mkl@`). Build strings and licenses are exact, globs
// or regular expressions `^...$` (string_pattern.h); versions as version_spec.h (regexes too).
// `build_number` takes `7`, `*`, an operator (`>=7`, `!=3`) or a regex. A package URL
// (`https://host/CHANNEL/SUBDIR/NAME-VERSION-BUILD.conda`) is that exact package (channel, subdir,
// name, version, build, url); bare file names and paths are refused. Names are lower-cased, as
// conda does. A `# comment` is dropped; so are conda's ` if ...` conditions and a trailing
// `(target=..., optional)` section (with a warning).
//
// Where conda accepts a form CEP 29 or envpack reads differently, parsing succeeds and a warning
// says so: `numpy[version<2]` (conda drops the entry silently, envpack reads `version='<2'`),
// `.*` after `<`/`>`/`==` (version_spec.h).
//
// `parse` throws a bad-input Error naming the spec; `try_parse` returns the message and the
// 0-based offset in the spec text instead (for file:line:column). `to_string` gives conda's
// canonical form (`numpy=1.7`, `numpy==1.7=py27_0`, `conda-forge::numpy[version='>=1.7,<2']`),
// which parses back to an equal spec. `matches` is a pure function of the record.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/package_record.h"
#include "resolver/string_pattern.h"
#include "resolver/version.h"
#include "resolver/version_spec.h"

namespace envpack {

class MatchSpec {
  public:
    MatchSpec() = default;
    static MatchSpec parse(std::string_view text);
    // Warnings (forms conda reads differently or deprecates) are appended to `warnings`.
    static std::expected<MatchSpec, SpecSyntaxError> try_parse(
        std::string_view text, std::vector<std::string>* warnings = nullptr);

    // `version` is the record's parsed version; the overload without it parses record.version.
    bool matches(const PackageRecord& record, const Version& version) const;
    bool matches(const PackageRecord& record) const;

    std::string to_string() const;

    const std::string& name() const { return m_name; }
    // True when the name has no `*` (the spec names exactly one package).
    bool has_exact_name() const { return m_name.find('*') == std::string::npos; }
    const VersionSpec& version() const { return m_version; }
    const std::string& build() const { return m_build.to_string(); }  // "" when any build matches
    const std::optional<std::string>& channel() const { return m_channel; }
    const std::optional<std::string>& subdir() const { return m_subdir; }
    const std::vector<std::string>& track_features() const { return m_track_features; }

  private:
    struct BuildNumber {
        std::string op;  // "==", "!=", "<", "<=", ">", ">=", "*", "regex"
        std::int64_t value = 0;
        std::string text;
        StringPattern regex;  // op "regex"
        bool matches(std::int64_t build_number) const;
    };
    class Parser;

    std::string m_name = "*";
    VersionSpec m_version;
    StringPattern m_build;
    std::optional<std::string> m_channel;
    std::optional<std::string> m_subdir;
    std::optional<BuildNumber> m_build_number;
    std::vector<std::string> m_track_features;  // sorted
    std::vector<std::string> m_features;        // sorted
    std::optional<std::string> m_md5;
    std::optional<std::string> m_sha256;
    std::optional<std::string> m_fn;
    std::optional<std::string> m_url;
    std::optional<StringPattern> m_license;
};

}  // namespace envpack
