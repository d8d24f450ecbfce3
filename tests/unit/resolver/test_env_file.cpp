#include <catch2/catch.hpp>

#include "core/error.h"
#include "resolver/env_file.h"

using namespace envpack;

namespace {

// The message of the bad-input Error that parsing `text` throws.
std::string parse_error(const std::string& text) {
    try {
        EnvSpec::parse(text, "env.yml");
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::bad_input);
        return e.what();
    }
    FAIL("expected a parse error for:\n" << text);
    return {};
}

}  // namespace

TEST_CASE("env file: Azure ML walkthrough shape", "[env_file]") {
    const char* text = R"(# Conda environment specification.
name: project_environment
channels:
  - conda-forge
  - ./local-channel
dependencies:
  - python=3.6.2
  - numpy >=1.16,<2
  - scikit-learn==0.22.1=py36_0
  - pip:
      - azureml-defaults
      - torch==1.4.0
variables:
  OMP_NUM_THREADS: "1"
  EMPTY:
)";
    EnvSpec spec = EnvSpec::parse(text, "conda_dependencies.yml");
    CHECK(spec.name == "project_environment");
    CHECK(spec.channels == std::vector<std::string>{"conda-forge", "./local-channel"});
    CHECK(spec.dependencies == std::vector<std::string>{"python=3.6.2", "numpy >=1.16,<2",
                                                        "scikit-learn==0.22.1=py36_0"});
    CHECK(spec.pip == std::vector<std::string>{"azureml-defaults", "torch==1.4.0"});
    REQUIRE(spec.variables.size() == 2);
    CHECK(spec.variables[0] == std::pair<std::string, std::string>{"OMP_NUM_THREADS", "1"});
    CHECK(spec.variables[1].second.empty());
    REQUIRE(spec.dependency_pos.size() == 3);
    CHECK(spec.dependency_pos[1] == SourcePos{8, 5});
    CHECK(spec.notes.empty());
}

TEST_CASE("env file: to_string round trip", "[env_file]") {
    const char* texts[] = {
        "name: x\nchannels: [conda-forge, 'https://example.com/ch/']\n"
        "dependencies: [python=3.9, 'numpy >=1.20', {pip: ['requests>=2', '-e .']}]\n"
        "variables: {A: 'yes', B: '1.0', C: \"it's\"}\n",
        "dependencies:\n  - conda-forge::numpy[version='>=1.7']\n  - 'python 3.10.*'\n",
        "name: 'true'\nchannels:\n  - ../rel/path\n",
    };
    for (const char* text : texts) {
        EnvSpec a = EnvSpec::parse(text, "a.yml");
        std::string written = a.to_string();
        EnvSpec b = EnvSpec::parse(written, "b.yml");
        INFO(written);
        CHECK(a == b);
        CHECK(b.to_string() == written);
    }
}

TEST_CASE("env file: prefix is ignored with a note", "[env_file]") {
    EnvSpec spec =
        EnvSpec::parse("name: a\nprefix: /opt/conda/envs/a\ndependencies: [zlib]\n", "e.yml");
    REQUIRE(spec.notes.size() == 1);
    CHECK(spec.notes[0].find("`prefix` is ignored") != std::string::npos);
    CHECK(spec.notes[0].find("e.yml:2") != std::string::npos);
    CHECK(spec.dependencies == std::vector<std::string>{"zlib"});
}

TEST_CASE("env file: errors carry file:line:column and the line with a caret", "[env_file]") {
    SECTION("unknown key") {
        std::string msg = parse_error("name: a\nchanels:\n  - conda-forge\n");
        CHECK(msg.find("env.yml:2:1: unknown key `chanels`") != std::string::npos);
        CHECK(msg.find("\n  chanels:\n  ^") != std::string::npos);
    }
    SECTION("malformed match spec, column of the offending character") {
        std::string msg = parse_error("dependencies:\n  - python=3.6\n  - numpy[version='>=1'\n");
        CHECK(msg.find("env.yml:3:10:") != std::string::npos);
        CHECK(msg.find("numpy[version='>=1'") != std::string::npos);
        CHECK(msg.find("\n           ^") != std::string::npos);
    }
    SECTION("malformed YAML") {
        std::string msg = parse_error("name: a\ndependencies: [python\n  - x: :\n");
        CHECK(msg.find("env.yml:") != std::string::npos);
        CHECK(msg.find("malformed YAML") != std::string::npos);
    }
    SECTION("tab-broken indentation") {
        std::string msg = parse_error("dependencies:\n  - a\n bad: [\n");
        CHECK(msg.find("malformed YAML") != std::string::npos);
    }
    SECTION("wrong shapes") {
        CHECK(parse_error("- a\n- b\n").find("must be a mapping") != std::string::npos);
        CHECK(parse_error("channels: conda-forge\n")
                  .find("env.yml:1:11: `channels` must be a list") != std::string::npos);
        CHECK(parse_error("dependencies:\n  - {conda: [x]}\n").find("env.yml:2:5:") !=
              std::string::npos);
        CHECK(parse_error("dependencies:\n  - pip: [a]\n  - pip: [b]\n").find("only one `pip:`") !=
              std::string::npos);
        CHECK(parse_error("dependencies:\n  - [a, b]\n").find("env.yml:2:5:") != std::string::npos);
        CHECK(parse_error("dependencies:\n  -\n").find("must be a match spec string") !=
              std::string::npos);
        CHECK(parse_error("variables: [a]\n").find("`variables` must be a mapping") !=
              std::string::npos);
        CHECK(parse_error("name: a\nname: b\n").find("env.yml:2:1: duplicate key `name`") !=
              std::string::npos);
        CHECK(parse_error("").find("empty") != std::string::npos);
    }
}

TEST_CASE("env file: load names a missing file", "[env_file]") {
    try {
        EnvSpec::load("/nonexistent/env.yml");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::bad_input);
        CHECK(std::string(e.what()).find("/nonexistent/env.yml") != std::string::npos);
    }
}

TEST_CASE("env file: content hash ignores formatting and name, follows the solve inputs",
          "[env_file]") {
    EnvSpec a =
        EnvSpec::parse("name: a\nchannels: [conda-forge]\ndependencies: [python=3.9]\n", "a");
    EnvSpec b = EnvSpec::parse(
        "# comment\nname: b\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.9\n", "b");
    EnvSpec c = EnvSpec::parse("channels: [conda-forge]\ndependencies: [python=3.10]\n", "c");
    EnvSpec d =
        EnvSpec::parse("channels: [conda-forge]\ndependencies: [python=3.9, {pip: [x]}]\n", "d");
    CHECK(env_content_hash(a, "linux-64") == env_content_hash(b, "linux-64"));
    CHECK(env_content_hash(a, "linux-64").size() == 64);
    CHECK(env_content_hash(a, "linux-64") != env_content_hash(a, "linux-aarch64"));
    CHECK(env_content_hash(a, "linux-64") != env_content_hash(c, "linux-64"));
    CHECK(env_content_hash(a, "linux-64") != env_content_hash(d, "linux-64"));
}
