// MatchSpec (CEP 29): parsing, conda's canonical string forms, matching records.
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

std::string canon(const char* s) {
    return MatchSpec::parse(s).to_string();
}

}  // namespace

TEST_CASE("match spec: conda's canonical string forms") {
    // From conda's tests/models/test_match_spec.py (test_canonical_string_forms), minus the
    // rows that need channel-alias knowledge (URL channels shortened to `pkgs/free`).
    CHECK(canon("numpy") == "numpy");
    CHECK(canon("numpy=1.7") == "numpy=1.7");
    CHECK(canon("numpy 1.7*") == "numpy=1.7");
    CHECK(canon("numpy 1.7.*") == "numpy=1.7");
    CHECK(canon("numpy[version='1.7*']") == "numpy=1.7");
    CHECK(canon("numpy[version='1.7.*']") == "numpy=1.7");
    CHECK(canon("numpy[version=1.7.*]") == "numpy=1.7");
    CHECK(canon("numpy==1.7") == "numpy==1.7");
    CHECK(canon("numpy[version='1.7']") == "numpy==1.7");
    CHECK(canon("numpy[version=1.7]") == "numpy==1.7");
    CHECK(canon("numpy 1.7") == "numpy==1.7");
    CHECK(canon("numpy[version='1.7|1.8']") == "numpy[version='1.7|1.8']");
    CHECK(canon("numpy[version=\"1.7,1.8\"]") == "numpy[version='1.7,1.8']");
    CHECK(canon("numpy >1.7") == "numpy[version='>1.7']");
    CHECK(canon("numpy>=1.7") == "numpy[version='>=1.7']");
    CHECK(canon("numpy=1.7=py3*_2") == "numpy==1.7[build=py3*_2]");
    CHECK(canon("numpy=1.7.*=py3*_2") == "numpy=1.7[build=py3*_2]");
    CHECK(canon("defaults::numpy") == "defaults::numpy");
    CHECK(canon("numpy[channel=defaults]") == "defaults::numpy");
    CHECK(canon("conda-forge::numpy") == "conda-forge::numpy");
    CHECK(canon("numpy[channel=conda-forge]") == "conda-forge::numpy");
    CHECK(canon("numpy[channel=defaults,subdir=osx-64]") == "defaults/osx-64::numpy");
    CHECK(canon("*/win-32::numpy") == "numpy[subdir=win-32]");
    CHECK(canon("*/win-32::numpy[subdir=\"osx-64\"]") == "numpy[subdir=osx-64]");
    // name=VERSION=BUILD (conda env export) is an exact version and build.
    CHECK(canon("numpy=1.7.1=py27_0") == "numpy==1.7.1=py27_0");
    CHECK(canon("numpy 1.7.1 py27_0") == "numpy==1.7.1=py27_0");
    CHECK(canon("numpy >=1.0 , < 2.0 py34_0") == "numpy[version='>=1.0,<2.0',build=py34_0]");
    CHECK(canon("numpy * openblas_0") == "numpy[build=openblas_0]");
    CHECK(canon("*[track_features=mkl]") == "*[track_features=mkl]");
    CHECK(canon("numpy[build_number='>=2']") == "numpy[build_number='>=2']");
    CHECK(canon("numpy !=1.7.3") == "numpy!=1.7.3");
    CHECK(canon("python 2.7*  # a comment") == "python=2.7");
}

TEST_CASE("match spec: round trip of canonical forms") {
    for (const char* s :
         {"numpy", "numpy=1.7", "numpy==1.7", "numpy==1.7.1=py27_0", "numpy[version='>=1.7,<2']",
          "conda-forge::numpy=1.7", "conda-forge/linux-64::numpy", "numpy=1.7[build=py27*]",
          "*[track_features=mkl]", "numpy[build_number=3]", "numpy[subdir=noarch]",
          "numpy[version='1.7|1.8',build=py27*]", "numpy~=1.4.5",
          "numpy[md5=0123456789abcdef0123456789abcdef]", "numpy[version='1.*.1']"}) {
        INFO(s);
        auto spec = MatchSpec::parse(s);
        CHECK(spec.to_string() == s);
        CHECK(MatchSpec::parse(spec.to_string()).to_string() == spec.to_string());
    }
}

TEST_CASE("match spec: fields") {
    auto s = MatchSpec::parse("conda-forge/linux-64::numpy>=1.7[build=py27*]");
    CHECK(s.name() == "numpy");
    CHECK(s.channel() == std::optional<std::string>("conda-forge"));
    CHECK(s.subdir() == std::optional<std::string>("linux-64"));
    CHECK(s.build() == "py27*");
    CHECK(s.version().to_string() == ">=1.7");
    auto url = MatchSpec::parse("https://conda.anaconda.org/conda-forge::numpy");
    CHECK(url.channel() == std::optional<std::string>("https://conda.anaconda.org/conda-forge"));
    CHECK(url.name() == "numpy");
    // Brackets override the rest.
    CHECK(MatchSpec::parse("numpy=1.7[version='>=1.8']").version().to_string() == ">=1.8");
}

TEST_CASE("match spec: matching records") {
    auto np = rec("numpy", "1.7.1", "py27_0", 2);
    CHECK(MatchSpec::parse("numpy").matches(np));
    CHECK(MatchSpec::parse("numpy=1.7").matches(np));
    CHECK(MatchSpec::parse("numpy 1.7*").matches(np));
    CHECK_FALSE(MatchSpec::parse("numpy==1.7").matches(np));
    CHECK(MatchSpec::parse("numpy==1.7.1").matches(np));
    CHECK(MatchSpec::parse("numpy=1.7.1=py27_0").matches(np));
    CHECK_FALSE(MatchSpec::parse("numpy=1.7.1=py26_0").matches(np));
    // `name=VERSION=BUILD` pins the version exactly: 1.7 (== 1.7.0), not 1.7.1.
    CHECK(MatchSpec::parse("numpy=1.7=py27*").matches(rec("numpy", "1.7", "py27_3")));
    CHECK_FALSE(MatchSpec::parse("numpy=1.7=py27*").matches(np));
    CHECK(MatchSpec::parse("numpy 1.7.1 py2*").matches(np));
    CHECK(MatchSpec::parse("numpy[build=*_0]").matches(np));
    CHECK_FALSE(MatchSpec::parse("numpy[build=*_1]").matches(np));
    CHECK(MatchSpec::parse("numpy[build_number='>=2']").matches(np));
    CHECK_FALSE(MatchSpec::parse("numpy[build_number=3]").matches(np));
    CHECK(MatchSpec::parse("conda-forge::numpy").matches(np));
    CHECK(MatchSpec::parse("https://conda.anaconda.org/conda-forge::numpy").matches(np));
    CHECK_FALSE(MatchSpec::parse("defaults::numpy").matches(np));
    CHECK_FALSE(MatchSpec::parse("numpy[subdir=noarch]").matches(np));
    CHECK(MatchSpec::parse("num*").matches(np));
    CHECK_FALSE(MatchSpec::parse("scipy").matches(np));
    CHECK(MatchSpec::parse("numpy[version='1.7.*|1.8.*', build='py27*']").matches(np));

    auto mkl = rec("mkl", "11.0", "np17py27_p0");
    mkl.track_features = {"mkl"};
    CHECK(MatchSpec::parse("*[track_features=mkl]").matches(mkl));
    CHECK_FALSE(MatchSpec::parse("*[track_features=mkl]").matches(np));
    CHECK_FALSE(MatchSpec::parse("*[track_features='mkl debug']").matches(mkl));
    auto numexpr = rec("numexpr", "2.0.1", "np17py27_p1");
    numexpr.features = {"mkl"};
    CHECK(MatchSpec::parse("numexpr[features=mkl]").matches(numexpr));
    CHECK_FALSE(MatchSpec::parse("numexpr[features=mkl]").matches(rec("numexpr", "2.0.1", "x")));
}

TEST_CASE("match spec: malformed specs are bad input naming the spec") {
    for (const char* bad :
         {"", "   ", "# only a comment", "numpy[version=]", "numpy[foo=bar]", "numpy[version='1.7",
          "numpy >=", "numpy ==", "numpy=1.7=py27=0", "=1.7", "numpy[version=>>1]",
          "numpy-1.7-py27_0.tar.bz2", "numpy]", "numpy[a=1][b=2]"}) {
        INFO(bad);
        try {
            MatchSpec::parse(bad);
            FAIL("accepted");
        } catch (const envpack::Error& e) {
            CHECK(e.code() == envpack::ExitCode::bad_input);
        }
    }
}
