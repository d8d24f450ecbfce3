// .condarc: the channel keys, conda's expansion of channel names, where the file is found, and
// the channels a request uses.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "core/error.h"
#include "resolver/condarc.h"

using envpack::Condarc;
using envpack::CondarcPriority;

TEST_CASE("condarc: channel keys and expansion") {
    auto rc = Condarc::parse(R"(
channels:
  - conda-forge
  - defaults
channel_alias: https://mirror.example.com/conda/
default_channels:
  - https://repo.example.com/pkgs/main
custom_channels:
  private: https://private.example.com/t/s3cr3t
channel_priority: strict
ssl_verify: true
)",
                             "test.condarc");
    CHECK(rc.channels == std::vector<std::string>{"conda-forge", "defaults"});
    CHECK(rc.channel_alias == "https://mirror.example.com/conda");
    CHECK(rc.channel_priority == CondarcPriority::strict);
    CHECK(rc.expand("conda-forge") ==
          std::vector<std::string>{"https://mirror.example.com/conda/conda-forge"});
    CHECK(rc.expand("pytorch/label/nightly") ==
          std::vector<std::string>{"https://mirror.example.com/conda/pytorch/label/nightly"});
    CHECK(rc.expand("defaults") == std::vector<std::string>{"https://repo.example.com/pkgs/main"});
    CHECK(rc.expand("private") ==
          std::vector<std::string>{"https://private.example.com/t/s3cr3t/private"});
    CHECK(rc.expand("private/label/dev") ==
          std::vector<std::string>{"https://private.example.com/t/s3cr3t/private/label/dev"});
    CHECK(rc.expand("https://other.example.com/chan/") ==
          std::vector<std::string>{"https://other.example.com/chan"});
    CHECK(rc.expand("./local") == std::vector<std::string>{"./local"});

    Condarc empty = Condarc::parse("", "empty.condarc");
    CHECK(empty.expand("conda-forge") ==
          std::vector<std::string>{"https://conda.anaconda.org/conda-forge"});
    CHECK(empty.expand("defaults").size() == 2);
    CHECK_FALSE(empty.channel_priority);
}

TEST_CASE("condarc: bad input names the file, line and column") {
    try {
        Condarc::parse("channels: [a]\nchannel_priority: sometimes\n", "bad.condarc");
        FAIL("accepted");
    } catch (const envpack::Error& e) {
        CHECK(e.code() == envpack::ExitCode::bad_input);
        CHECK_THAT(e.what(), Catch::Contains("bad.condarc:2:"));
    }
}

TEST_CASE("condarc: CONDARC, then ~/.condarc") {
    auto dir = std::filesystem::temp_directory_path() /
               ("envpack-test-condarc-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    CHECK_FALSE(Condarc::locate(nullptr, dir));
    std::ofstream(dir / ".condarc") << "channels: [x]\n";
    CHECK(Condarc::locate(nullptr, dir) == dir / ".condarc");
    CHECK(Condarc::locate("", dir) == dir / ".condarc");
    CHECK(Condarc::locate("/elsewhere/rc", dir) == std::filesystem::path("/elsewhere/rc"));
    CHECK(Condarc::load(dir / ".condarc").channels == std::vector<std::string>{"x"});
    std::filesystem::remove_all(dir);
}

TEST_CASE("condarc: the channels a request uses") {
    auto rc = Condarc::parse(R"(
channels: [conda-forge, defaults]
default_channels: [https://repo.example.com/pkgs/main]
custom_channels: {private: "https://private.example.com/t/s3cr3t"}
)",
                             "rc");
    using List = std::vector<std::pair<std::string, size_t>>;
    CHECK(rc.channels_for({}) ==
          List{{"conda-forge", SIZE_MAX}, {"https://repo.example.com/pkgs/main", SIZE_MAX}});
    CHECK(
        rc.channels_for({"private", "bioconda", "./local"}) ==
        List{{"https://private.example.com/t/s3cr3t/private", 0}, {"bioconda", 1}, {"./local", 2}});
}
