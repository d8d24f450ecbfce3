// MatchSpec against the rest of conda's tests/models/test_match_spec.py: the match table,
// regexes in versions and build strings, bracket keys with operators, build_number, license,
// parens sections, legacy features, and rejected specs with the column of the problem.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "resolver/match_spec.h"

using envpack::MatchSpec;
using envpack::PackageRecord;

namespace {

PackageRecord rec(std::string name, std::string version, std::string build, int build_number = 0) {
    PackageRecord r;
    r.name = std::move(name);
    r.version = std::move(version);
    r.build = std::move(build);
    r.build_number = build_number;
    r.subdir = "linux-64";
    r.channel = "https://conda.anaconda.org/conda-forge";
    return r;
}

bool matches(const char* spec, const PackageRecord& r) {
    return MatchSpec::parse(spec).matches(r);
}

std::string canon(const char* s) {
    return MatchSpec::parse(s).to_string();
}

}  // namespace

TEST_CASE("match spec: conda's test_match_1 table against numpy-1.7.1-py27_0") {
    struct Case {
        const char* spec;
        bool expected;
    };
    const Case cases[] = {
        {"numpy 1.7*", true},
        {"numpy 1.7.1", true},
        {"numpy 1.7", false},
        {"numpy 1.5*", false},
        {"numpy >=1.5", true},
        {"numpy >=1.5,<2", true},
        {"numpy >=1.8,<1.9", false},
        {"numpy >1.5,<2,!=1.7.1", false},
        {"numpy >1.8,<2|==1.7", false},
        {"numpy >1.8,<2|>=1.7.1", true},
        {"numpy >=1.8|1.7*", true},
        {"numpy ==1.7", false},
        {"numpy >=1.5,>1.6", true},
        {"numpy ==1.7.1", true},
        {"numpy ==1.7.1.0", true},
        {"numpy==1.7.1.0.0", true},
        {"numpy >=1,*.7.*", true},
        {"numpy *.7.*,>=1", true},
        {"numpy >=1,*.8.*", false},
        {"numpy >=2,*.7.*", false},
        {"numpy 1.6*|1.7*", true},
        {"numpy 1.6*|1.8*", false},
        {"numpy 1.6.2|1.7*", true},
        {"numpy 1.6.2|1.7.1", true},
        {"numpy 1.6.2|1.7.0", false},
        {"numpy 1.7.1 py27_0", true},
        {"numpy 1.7.1 py26_0", false},
        {"numpy >1.7.1a", true},
        {"python", false},
        // Regexes, positional and in brackets, for the version and the build.
        {R"(numpy ^1\.7\.1$)", true},
        {R"(numpy[version='^1\.7\.[0-9]+$'])", true},
        {R"(numpy[version='^1\.8.*$'])", false},
        {R"(numpy[version='^1\.7\.(0|1)$'])", true},
        {R"(numpy[build='^py27_[0-9]+$'])", true},
        {R"(numpy[build='^py26_[0-9]+$'])", false},
        {R"(numpy 1.7.1 ^py27_.$)", true},
        {R"(numpy 1.7.1 ^py26_.$)", false},
        {"numpy 1.7.1 py2*", true},
        {"numpy * *_0", true},
        {"NumPy 1.7.1", true},  // names are lower-cased, as conda does
    };
    auto np = rec("numpy", "1.7.1", "py27_0");
    for (const auto& c : cases) {
        INFO(c.spec);
        CHECK(matches(c.spec, np) == c.expected);
    }
    // conda's PEP 440 edge cases.
    CHECK_FALSE(matches("numpy >=1.0.1", rec("numpy", "1.0.1a", "0")));
    CHECK_FALSE(matches("numpy >=1.0.1.vc11", rec("numpy", "1.0.1a.vc11", "0")));
    CHECK(matches("numpy >=1.0.1*.vc11", rec("numpy", "1.0.1a.vc11", "0")));
    CHECK(matches("numpy <1.0.1", rec("numpy", "1.0.1.vc11", "0")));
    CHECK(matches("numpy <1.0.1", rec("numpy", "1.0.1a.vc11", "0")));
    CHECK_FALSE(matches("numpy >=1.0.1.vc11", rec("numpy", "1.0.1a", "0")));
    CHECK(matches("numpy >=1.0.1a", rec("numpy", "1.0.1z", "0")));
    CHECK(matches("numpy >=1.0.1a py27*", rec("numpy", "1.0.1z", "py27_1")));
    CHECK(matches("blas * openblas_0", rec("blas", "1.0", "openblas_0")));
    CHECK(matches("openssl>=1.0.1_", rec("openssl", "1.0.1_", "4")));
    CHECK_FALSE(matches("openssl>=1.0.1", rec("openssl", "1.0.1_", "4")));
}

TEST_CASE("match spec: bracket keys as conda's test_bracket_matches and test_license_match") {
    auto np = rec("numpy", "1.11.0", "py34_7", 7);
    np.license = "LGPLv3+";
    np.md5 = "0123456789abcdef0123456789abcdef";
    np.sha256 = std::string(64, 'a');
    np.fn = "numpy-1.11.0-py34_7.conda";
    np.url = "https://conda.anaconda.org/conda-forge/linux-64/numpy-1.11.0-py34_7.conda";
    CHECK(matches("numpy<2", np));
    CHECK(matches("numpy[version<2]", np));  // conda ignores the entry; envpack reads <2
    CHECK_FALSE(matches("numpy[version>2]", np));
    CHECK_FALSE(matches("numpy>2", np));
    CHECK_FALSE(matches("numpy[version='>2']", np));
    CHECK(matches("numpy[build_number='7']", np));
    CHECK(matches("numpy[build_number='<8']", np));
    CHECK_FALSE(matches("numpy[build_number='>7']", np));
    CHECK(matches("numpy[build_number='>=7']", np));
    CHECK(matches("numpy[build_number='!=6']", np));
    CHECK(matches("numpy[build_number='*']", np));
    CHECK(matches("numpy[build_number='^[0-9]$']", np));
    CHECK_FALSE(matches("numpy[build_number='^[0-6]$']", np));
    CHECK(matches("numpy ~=1.10", np));
    CHECK(matches("numpy~=1.10", np));
    CHECK(matches("*[license='*gpl*']", np));
    CHECK(matches("*[license='*v3+']", np));
    CHECK(matches("*[license=lgplv3+]", np));
    CHECK_FALSE(matches("*[license=MIT]", np));
    CHECK(matches("numpy[md5=0123456789abcdef0123456789abcdef]", np));
    CHECK_FALSE(matches("numpy[md5=ffffffffffffffffffffffffffffffff]", np));
    CHECK(matches(("numpy[sha256=" + np.sha256 + "]").c_str(), np));
    CHECK(matches("numpy[fn=numpy-1.11.0-py34_7.conda]", np));
    CHECK(matches(("numpy[url='" + np.url + "']").c_str(), np));
    CHECK_FALSE(matches("numpy[url=https://example.com/x.conda]", np));
    CHECK(matches("numpy[subdir=linux-64]", np));
    CHECK(matches("conda-forge/linux-64::numpy", np));
    CHECK_FALSE(matches("conda-forge/noarch::numpy", np));
    CHECK(matches("numpy[channel=conda-forge/linux-64]", np));
    CHECK(matches("*/linux-64::numpy", np));

    std::vector<std::string> warnings;
    REQUIRE(MatchSpec::try_parse("numpy[version<2]", &warnings));
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("version='<2'"));
}

TEST_CASE("match spec: conda's canonical forms for operators, builds and legacy features") {
    CHECK(canon("numpy[version=1.10 build=py38_0]") == "numpy==1.10=py38_0");
    CHECK(canon("numpy==1.10=py38_0") == "numpy==1.10=py38_0");
    CHECK(canon("numpy!=1.10") == "numpy!=1.10");
    CHECK(canon("numpy!=1.10 py38_0") == "numpy[version='!=1.10',build=py38_0]");
    CHECK(canon("numpy !=1.10=py38_0") == "numpy[version='!=1.10',build=py38_0]");
    CHECK(canon("numpy >1.7,!=1.10 py38_0") == "numpy[version='>1.7,!=1.10',build=py38_0]");
    CHECK(canon("numpy!=1.10.*") == "numpy!=1.10.*");
    CHECK(canon("numpy!=1.10,!=1.11") == "numpy[version='!=1.10,!=1.11']");
    CHECK(canon("numpy ~=1.10.1") == "numpy~=1.10.1");
    CHECK(canon("numpy ~=1.10.1 py38_0") == "numpy[version='~=1.10.1',build=py38_0]");
    CHECK(canon("openssl=1.1.1_") == "openssl=1.1.1_");
    CHECK(canon("openssl>=1.1.1_,!=1.1.1c") == "openssl[version='>=1.1.1_,!=1.1.1c']");
    CHECK(canon("numpy==1.7.*") == "numpy=1.7");
    CHECK(canon("numpy>=2.*") == "numpy[version='>=2']");
    CHECK(canon("mkl@") == "*[track_features=mkl]");
    CHECK(canon(R"(numpy ^1\.7\.1$)") == R"(numpy[version='^1\.7\.1$'])");
    CHECK(canon(R"(numpy[build='^py27_[0-9]+$'])") == R"(numpy[build=^py27_[0-9]+$])");
    CHECK(canon("conda-forge::foo[build=3](target=blarg,optional)") == "conda-forge::foo[build=3]");
    CHECK(canon("numpy >=1.8 if __unix") == "numpy[version='>=1.8']");
    CHECK(canon("* 1 *") == "*==1[build=*]");
    CHECK(canon("* * openblas_0") == "*[build=openblas_0]");
    CHECK(canon("* *") == "*");
    CHECK(canon("defaults::numpy=1.8=py27_0 [channel=anaconda,version=1.9, build=3]") ==
          "anaconda::numpy==1.9=3");
    CHECK(
        canon(
            R"(defaults::numpy=1.8=py27_0 [channel='anaconda',version=">=1.8,<2|1.9", build='3'])") ==
        "anaconda::numpy[version='>=1.8,<2|1.9',build=3]");
    for (const char* s :
         {R"(numpy[version='^1\.7\.(0|1)$'])", "numpy[build_number='>=2']", "numpy[license=*gpl*]",
          R"(numpy[build=^py27_[0-9]+$])", "numpy[build_number=*]"}) {
        INFO(s);
        CHECK(canon(s) == s);
    }
}

TEST_CASE("match spec: rejected specs name the problem and its column") {
    struct Case {
        const char* spec;
        const char* message;
        size_t offset;
    };
    const Case cases[] = {
        {"blas [optional", "unbalanced bracket", 5},
        {"blas [test=]", "empty value", 11},
        {"blas[invalid=\"1\"]", "cannot match on field `invalid`", 5},
        {"!xyz 1.3", "no package name", 0},
        {"numpy[version='^1.(7$']", "invalid regular expression", 15},
        {"numpy >=1.7,^1.(7$", "invalid regular expression", 12},
        {"numpy[build='^py27']", "must start with `^` and end with `$`", 18},
        {"numpy[build_number='>=x']", "invalid build_number", 20},
        {"numpy >=", "operator without a version", 6},
        {"numpy 1.7=py27_0=x", "invalid version", 6},
    };
    for (const auto& c : cases) {
        INFO(c.spec);
        auto parsed = MatchSpec::try_parse(c.spec);
        REQUIRE_FALSE(parsed);
        CHECK_THAT(parsed.error().message, Catch::Contains(c.message));
        CHECK(parsed.error().offset == c.offset);
        try {
            MatchSpec::parse(c.spec);
            FAIL("accepted");
        } catch (const envpack::Error& e) {
            CHECK(e.code() == envpack::ExitCode::bad_input);
        }
    }
}

TEST_CASE("match spec: package URLs, as conda's test_tarball_match_specs") {
    const char* url =
        "https://conda.anaconda.org/conda-canary/linux-64/"
        "conda-4.3.21.post699+1dab973-py36h4a561cd_0.tar.bz2";
    CHECK(canon(url) ==
          "https://conda.anaconda.org/conda-canary/linux-64::"
          "conda==4.3.21.post699+1dab973=py36h4a561cd_0");
    CHECK(canon(canon(url).c_str()) == canon(url));
    auto spec = MatchSpec::parse(url);
    CHECK(spec.name() == "conda");
    CHECK(spec.subdir() == std::optional<std::string>("linux-64"));
    auto r = rec("conda", "4.3.21.post699+1dab973", "py36h4a561cd_0");
    r.channel = "conda-canary";
    r.url = url;
    r.fn = "conda-4.3.21.post699+1dab973-py36h4a561cd_0.tar.bz2";
    CHECK(spec.matches(r));
    r.url = "https://mirror.example.com/conda-canary/linux-64/" + r.fn;
    CHECK_FALSE(spec.matches(r));  // the URL is part of the spec

    const char* loose =
        "https://conda.anaconda.org/conda-canary/"
        "conda-4.3.21.post699+1dab973-py36h4a561cd_0.conda";
    CHECK(canon(loose) == std::string("*[url=") + loose + "]");
    // A bare file name or path is not a URL.
    CHECK_FALSE(MatchSpec::try_parse("numpy-1.7-py27_0.tar.bz2"));
    CHECK_FALSE(MatchSpec::try_parse("/tmp/numpy-1.7-py27_0.conda"));
    auto bad = MatchSpec::try_parse("https://h.example.com/c/linux-64/numpy.conda");
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("NAME-VERSION-BUILD"));
}
