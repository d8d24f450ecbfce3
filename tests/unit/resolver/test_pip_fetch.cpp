#include <catch2/catch.hpp>

#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "resolver/pip_fetch.h"
#include "zip_writer.h"

using namespace envpack;
namespace fs = std::filesystem;

namespace {

std::string make_wheel(const std::string& name, const std::string& version, const std::string& deps,
                       const std::string& metadata_name = "") {
    const std::string info = name + "-" + version + ".dist-info";
    return envpack::testing::make_zip(
        {{name + "/__init__.py", ""},
         {info + "/METADATA",
          "Metadata-Version: 2.1\nName: " + (metadata_name.empty() ? name : metadata_name) +
              "\nVersion: " + version + "\n" + deps},
         {info + "/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"},
         {info + "/RECORD", ""}});
}

struct Dir {
    TempDir tmp{"pip-fetch-"};
    void add(const std::string& file, const std::string& bytes) {
        write_file_atomic(tmp.path() / file, bytes, Durability::none);
    }
    pip_fetch::Finder finder() {
        pip_fetch::Options o;
        o.find_links = {tmp.path().string()};
        o.python = pep440::Version::parse("3.11");
        o.cache_dir = tmp.path() / "cache";
        return pip_fetch::Finder(o, wheel::TargetTags(wheel::Target{}), nullptr);
    }
};

}  // namespace

TEST_CASE("pip_fetch: a find-links directory gives wheels newest first, sdists as rejections") {
    Dir d;
    d.add("foo-1.0-py3-none-any.whl", make_wheel("foo", "1.0", "Requires-Dist: bar>=2\n"));
    d.add("foo-2.0-py3-none-any.whl",
          make_wheel("foo", "2.0", "Requires-Dist: bar>=3 ; extra == \"x\"\n"));
    d.add("foo-3.0.tar.gz", "not really");
    d.add("foo-2.5-cp311-cp311-win_amd64.whl", make_wheel("foo", "2.5", ""));
    d.add("other-1.0-py3-none-any.whl", make_wheel("other", "1.0", ""));
    auto finder = d.finder();
    auto releases = finder.releases("FOO");
    REQUIRE(releases.size() == 2);
    CHECK(releases[0].version.to_string() == "2.0");
    CHECK(releases[1].version.to_string() == "1.0");
    auto reqs = finder.requirements("foo", releases[1]);
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].to_string() == "bar>=2");
    CHECK(finder.wheel_path("foo", releases[0]).filename() == "foo-2.0-py3-none-any.whl");
    auto rejected = finder.rejections("foo");
    REQUIRE(rejected.size() == 2);
    bool sdist = false;
    for (const auto& r : rejected) {
        sdist = sdist || r.filename == "foo-3.0.tar.gz";
    }
    CHECK(sdist);
    CHECK(finder.counters().local_metadata == 1);
    CHECK(finder.releases("missing").empty());
}

TEST_CASE("pip_fetch: metadata that disagrees with the file name is refused") {
    Dir d;
    d.add("foo-1.0-py3-none-any.whl", make_wheel("foo", "1.0", "", "notfoo"));
    auto finder = d.finder();
    auto releases = finder.releases("foo");
    REQUIRE(releases.size() == 1);
    CHECK_THROWS_WITH(finder.requirements("foo", releases[0]),
                      Catch::Contains("foo-1.0-py3-none-any.whl") && Catch::Contains("notfoo"));
}

TEST_CASE("pip_fetch: a missing find-links directory is named") {
    pip_fetch::Options o;
    o.find_links = {"/nonexistent/wheels"};
    o.python = pep440::Version::parse("3.11");
    pip_fetch::Finder finder(o, wheel::TargetTags(wheel::Target{}), nullptr);
    CHECK_THROWS_WITH(finder.releases("x"), Catch::Contains("/nonexistent/wheels"));
}
