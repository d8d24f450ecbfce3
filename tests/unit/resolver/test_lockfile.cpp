#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include "core/error.h"
#include "resolver/lockfile.h"

using namespace envpack;

namespace {

PackageRecord record(std::string name, std::string version, std::string build,
                     std::vector<std::string> depends) {
    PackageRecord r;
    r.name = std::move(name);
    r.version = std::move(version);
    r.build = std::move(build);
    r.depends = std::move(depends);
    r.fn = r.name + "-" + r.version + "-" + r.build + ".conda";
    r.url = "https://conda.anaconda.org/conda-forge/linux-64/" + r.fn;
    r.md5 = std::string(32, 'a');
    r.sha256 = std::string(64, 'b');
    return r;
}

LockFile sample() {
    EnvSpec spec = EnvSpec::parse("channels: [conda-forge]\ndependencies: [python=3.10, numpy]\n",
                                  "environment.yml");
    LockFile lock;
    lock.content_hash["linux-64"] = env_content_hash(spec, "linux-64");
    lock.channels = spec.channels;
    lock.platforms = {"linux-64"};
    lock.sources = {"environment.yml"};
    lock.packages.push_back(
        LockedPackage::from_record(record("libzlib", "1.2.13", "hd590300_5", {}), "linux-64"));
    lock.packages.push_back(
        LockedPackage::from_record(record("python", "3.10.0", "h_0_cpython",
                                          {"libzlib >=1.2.13,<2.0.0a0", "tzdata",
                                           "python_abi 3.10.* *_cp310", "libzlib !=1.2.12"}),
                                   "linux-64"));
    lock.packages.push_back(
        LockedPackage::from_record(record("yes", "1.0", "0", {"true-dep 1.0"}), "linux-64"));
    lock.packages.back().sha256.clear();
    return lock;
}

}  // namespace

TEST_CASE("lockfile: from_record splits dependencies as conda-lock does", "[lockfile]") {
    LockFile lock = sample();
    const LockedPackage& py = lock.packages[1];
    CHECK(py.manager == "conda");
    CHECK(py.category == "main");
    CHECK_FALSE(py.optional);
    REQUIRE(py.dependencies.size() == 3);
    CHECK(py.dependencies[0] ==
          std::pair<std::string, std::string>{"libzlib", ">=1.2.13,<2.0.0a0,!=1.2.12"});
    CHECK(py.dependencies[1] == std::pair<std::string, std::string>{"tzdata", "*"});
    CHECK(py.dependencies[2] ==
          std::pair<std::string, std::string>{"python_abi", "3.10.* *_cp310"});
    CHECK(py.file_name() == "python-3.10.0-h_0_cpython.conda");
    CHECK(py.build() == "h_0_cpython");
}

TEST_CASE("lockfile: to_string / parse round trip, readable by any YAML reader", "[lockfile]") {
    LockFile lock = sample();
    std::string text = lock.to_string();
    LockFile back = LockFile::parse(text, "conda-lock.yml");
    CHECK(back == lock);
    CHECK(back.to_string() == text);
    // Versions and names that look like numbers or booleans stay strings for other readers.
    YAML::Node n = YAML::Load(text);
    CHECK(n["version"].as<int>() == 1);
    CHECK(n["package"][2]["name"].Scalar() == "yes");
    CHECK(text.find("name: 'yes'") != std::string::npos);
    CHECK(text.find("version: '1.0'") != std::string::npos);
    CHECK(n["metadata"]["channels"][0]["url"].Scalar() == "conda-forge");
    CHECK(n["package"][1]["hash"]["sha256"].Scalar() == std::string(64, 'b'));
    CHECK(n["package"][0]["dependencies"].IsMap());
    CHECK(n["package"][0]["dependencies"].size() == 0);
}

TEST_CASE("lockfile: reads a conda-lock written file", "[lockfile]") {
    // The shape conda-lock 2.x writes (with its extra metadata keys).
    const char* text = R"(version: 1
metadata:
  content_hash:
    linux-64: 0123abcd
  channels:
  - url: conda-forge
    used_env_vars: []
  platforms:
  - linux-64
  sources:
  - environment.yml
  time_metadata: null
  git_metadata: null
  inputs_metadata: null
  custom_metadata: null
package:
- name: _libgcc_mutex
  version: '0.1'
  manager: conda
  platform: linux-64
  dependencies: {}
  url: https://conda.anaconda.org/conda-forge/linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2
  hash:
    md5: d7c89558ba9fa0495403155b64376d81
    sha256: fe51de6107f9edc7aa4f786a70f4a883943bc9d39b3bb7307c04c41410990726
  category: main
  optional: false
- name: requests
  version: 2.31.0
  manager: pip
  platform: linux-64
  dependencies:
    idna: <4,>=2.5
  url: https://files.pythonhosted.org/packages/requests-2.31.0-py3-none-any.whl
  hash:
    sha256: 58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f
  category: main
  optional: false
)";
    LockFile lock = LockFile::parse(text, "conda-lock.yml");
    CHECK(lock.content_hash.at("linux-64") == "0123abcd");
    REQUIRE(lock.packages.size() == 2);
    CHECK(lock.packages[0].build() == "conda_forge");
    CHECK(lock.packages[1].manager == "pip");
    CHECK(lock.packages[1].dependencies[0].second == "<4,>=2.5");
    std::string explicit_text = lock.to_explicit("linux-64");
    CHECK(
        explicit_text.find("@EXPLICIT\n"
                           "https://conda.anaconda.org/conda-forge/linux-64/"
                           "_libgcc_mutex-0.1-conda_forge.tar.bz2#"
                           "fe51de6107f9edc7aa4f786a70f4a883943bc9d39b3bb7307c04c41410990726\n") !=
        std::string::npos);
    // pip packages are not conda's: only conda-lock's `# pip` comment names them, after the URLs.
    const auto pip_line = explicit_text.find("\n# pip requests @ ");
    CHECK(pip_line != std::string::npos);
    CHECK(explicit_text.find("requests") == pip_line + 7);
    CHECK(explicit_text.find("_libgcc_mutex") < pip_line);
    CHECK(explicit_text.find("# platform: linux-64") != std::string::npos);
    CHECK_THROWS_AS(lock.to_explicit("osx-64"), Error);
}

TEST_CASE("lockfile: explicit falls back to md5", "[lockfile]") {
    LockFile lock = sample();
    std::string text = lock.to_explicit("linux-64");
    CHECK(text.find("yes-1.0-0.conda#" + std::string(32, 'a') + "\n") != std::string::npos);
    CHECK(text.find("python-3.10.0-h_0_cpython.conda#" + std::string(64, 'b') + "\n") !=
          std::string::npos);
}

TEST_CASE("lockfile: stale lock detection by content hash", "[lockfile]") {
    LockFile lock = sample();
    EnvSpec same = EnvSpec::parse(
        "name: renamed\n# a comment\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.10\n  "
        "- numpy\n",
        "environment.yml");
    EnvSpec changed = EnvSpec::parse(
        "channels: [conda-forge]\ndependencies: [python=3.11, numpy]\n", "environment.yml");
    CHECK(lock_state(lock, same, "linux-64") == LockState::fresh);
    CHECK(lock_state(lock, changed, "linux-64") == LockState::stale);
    CHECK(lock_state(lock, same, "linux-aarch64") == LockState::missing_platform);
}

TEST_CASE("lockfile: malformed lock files are errors with a position", "[lockfile]") {
    auto error_of = [](const char* text) -> std::string {
        try {
            LockFile::parse(text, "conda-lock.yml");
        } catch (const Error& e) {
            CHECK(e.code() == ExitCode::bad_input);
            return e.what();
        }
        FAIL("expected an error");
        return {};
    };
    CHECK_THAT(error_of("version: 2\nmetadata: {}\n"),
               Catch::Contains("conda-lock.yml:1:10:") &&
                   Catch::Contains("unsupported lock file version"));
    CHECK_THAT(error_of("version: 1\n"), Catch::Contains("missing `metadata`"));
    CHECK_THAT(error_of("version: 1\nmetadata: {}\npackage:\n- name: a\n  version: '1'\n"),
               Catch::Contains("conda-lock.yml:4:3:") && Catch::Contains("missing `manager`"));
    CHECK_THAT(
        error_of("version: 1\nmetadata: {}\npackage:\n- name: a\n  version: '1'\n  manager: conda\n"
                 "  platform: linux-64\n  url: u\n  hash: {}\n"),
        Catch::Contains("neither md5 nor sha256"));
    CHECK_THAT(error_of("version: 1\nmetadata: [\n"), Catch::Contains("malformed YAML"));
}
