// Wheel file names and the tags an image accepts (PEP 425, PEP 427, PEP 600, PEP 656).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/error.h"
#include "resolver/wheel_tags.h"

using envpack::pep440::Version;
using envpack::wheel::Libc;
using envpack::wheel::Tag;
using envpack::wheel::Target;
using envpack::wheel::TargetTags;
using envpack::wheel::WheelFilename;

namespace {

TargetTags tags_for(const char* python, const char* platform, const char* glibc) {
    return TargetTags(Target::for_image(Version::parse(python), platform, glibc));
}

std::optional<size_t> rank(const TargetTags& t, const char* wheel) {
    return t.best_rank(WheelFilename::parse(wheel));
}

}  // namespace

TEST_CASE("wheel: file names") {
    auto w = WheelFilename::parse(
        "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
    CHECK(w.name == "numpy");
    CHECK(w.version.to_string() == "1.26.4");
    CHECK_FALSE(w.build);
    REQUIRE(w.tags.size() == 2);
    CHECK(w.tags[0].to_string() == "cp311-cp311-manylinux_2_17_x86_64");
    CHECK(w.tags[1].to_string() == "cp311-cp311-manylinux2014_x86_64");

    auto six = WheelFilename::parse("six-1.16.0-py2.py3-none-any.whl");
    CHECK(six.tags.size() == 2);

    auto built = WheelFilename::parse("Foo_Bar-1.0-12abc-py3-none-any.whl");
    CHECK(built.normalized_name() == "foo-bar");
    REQUIRE(built.build);
    CHECK(built.build->number == 12);
    CHECK(built.build->rest == "abc");

    CHECK(WheelFilename::parse("Torch-2.1.0-CP311-CP311-LINUX_X86_64.whl").tags[0].to_string() ==
          "cp311-cp311-linux_x86_64");
    for (const char* bad :
         {"foo-1.0-py3-none-any.zip", "foo-1.0-py3-none.whl", "foo__bar-1.0-py3-none-any.whl",
          "foo-bar-1.0-py3-none-any.whl", "foo-1.0.x-py3-none-any.whl",
          "foo-1.0-abc-py3-none-any.whl", "-1.0-py3-none-any.whl"}) {
        INFO(bad);
        CHECK_FALSE(WheelFilename::try_parse(bad));
        CHECK_THROWS_AS(WheelFilename::parse(bad), envpack::Error);
    }
    CHECK(Tag::parse("Py3-None-Any").to_string() == "py3-none-any");
    CHECK_THROWS_AS(Tag::parse("py3-none"), envpack::Error);
}

TEST_CASE("wheel: the order of an image's tags (packaging's sys_tags on that image)") {
    auto t = tags_for("3.11.4", "linux-64", "2.17");
    const auto& all = t.tags();
    REQUIRE(all.size() > 10);
    CHECK(all.front().to_string() == "cp311-cp311-manylinux_2_17_x86_64");
    CHECK(all[1].to_string() == "cp311-cp311-manylinux2014_x86_64");
    CHECK(all[2].to_string() == "cp311-cp311-manylinux_2_16_x86_64");
    CHECK(all.back().to_string() == "py30-none-any");
    auto pos = [&](const char* tag) { return t.rank(Tag::parse(tag)).value(); };
    CHECK(pos("cp311-cp311-manylinux_2_12_x86_64") < pos("cp311-cp311-manylinux2010_x86_64"));
    CHECK(pos("cp311-cp311-manylinux2010_x86_64") < pos("cp311-cp311-manylinux_2_11_x86_64"));
    CHECK(pos("cp311-cp311-manylinux1_x86_64") < pos("cp311-cp311-linux_x86_64"));
    CHECK(pos("cp311-cp311-linux_x86_64") < pos("cp311-abi3-manylinux_2_17_x86_64"));
    CHECK(pos("cp311-abi3-linux_x86_64") < pos("cp311-none-manylinux_2_17_x86_64"));
    CHECK(pos("cp311-none-linux_x86_64") < pos("cp310-abi3-manylinux_2_17_x86_64"));
    CHECK(pos("cp32-abi3-linux_x86_64") < pos("py311-none-manylinux_2_17_x86_64"));
    CHECK(pos("py30-none-linux_x86_64") < pos("cp311-none-any"));
    CHECK(pos("cp311-none-any") < pos("py311-none-any"));
    CHECK(pos("py311-none-any") < pos("py3-none-any"));
    CHECK(pos("py3-none-any") < pos("py310-none-any"));
    CHECK_FALSE(t.rank(Tag::parse("cp311-cp311-manylinux_2_18_x86_64")));
    CHECK_FALSE(t.rank(Tag::parse("cp31-abi3-any")));
    CHECK_FALSE(t.rank(Tag::parse("cp39-abi3-manylinux_2_17_aarch64")));

    // aarch64 starts at manylinux_2_17 (manylinux2014); there is no manylinux1 there.
    auto arm = tags_for("3.11.4", "linux-aarch64", "2.28");
    CHECK(arm.tags().front().to_string() == "cp311-cp311-manylinux_2_28_aarch64");
    CHECK(arm.rank(Tag::parse("cp311-cp311-manylinux2014_aarch64")));
    CHECK_FALSE(arm.rank(Tag::parse("cp311-cp311-manylinux_2_16_aarch64")));
    CHECK_FALSE(arm.rank(Tag::parse("cp311-cp311-manylinux1_aarch64")));

    // Before 3.8 CPython's ABI carried the pymalloc flag.
    auto old = tags_for("3.7.16", "linux-64", "2.17");
    CHECK(old.tags().front().to_string() == "cp37-cp37m-manylinux_2_17_x86_64");
}

TEST_CASE("wheel: choosing among wheels, and saying why one does not fit") {
    auto t = tags_for("3.11.4", "linux-64", "2.31");
    CHECK(rank(t, "pip-23.0.1-py3-none-any.whl"));
    CHECK(rank(t, "cryptography-41.0.7-cp37-abi3-manylinux_2_28_x86_64.whl"));
    CHECK(*rank(t, "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl") <
          *rank(t, "cryptography-41.0.7-cp37-abi3-manylinux_2_28_x86_64.whl"));
    CHECK(*rank(t, "x-1-cp311-abi3-manylinux_2_17_x86_64.whl") < *rank(t, "x-1-py3-none-any.whl"));

    struct Row {
        const char* wheel;
        const char* reason;
    };
    const Row rows[] = {
        {"c-41.0.7-cp37-abi3-musllinux_1_1_x86_64.whl", "musllinux wheel"},
        {"n-1.0-cp311-cp311-manylinux_2_34_x86_64.whl", "needs glibc 2.34 or newer"},
        {"n-1.0-cp311-cp311-manylinux_2_17_aarch64.whl", "built for aarch64 machines"},
        {"n-1.0-cp311-cp311-macosx_11_0_arm64.whl", "built for macOS"},
        {"n-1.0-cp311-cp311-win_amd64.whl", "built for Windows"},
        {"n-1.0-cp310-cp310-manylinux_2_17_x86_64.whl", "built for cp310 (ABI cp310)"},
        {"n-1.0-py2-none-any.whl", "built for py2 (ABI none)"},
    };
    for (const auto& row : rows) {
        INFO(row.wheel);
        auto w = WheelFilename::parse(row.wheel);
        CHECK_FALSE(t.best_rank(w));
        const std::string why = t.why_incompatible(w);
        CHECK(why.find(row.reason) != std::string::npos);
        CHECK(why.find("CPython 3.11 on x86_64 with glibc 2.31") != std::string::npos);
    }
    CHECK(t.why_incompatible(WheelFilename::parse("pip-23.0.1-py3-none-any.whl")).empty());
}

TEST_CASE("wheel: targets come from the conda solve and the image's glibc") {
    auto t = Target::for_image(Version::parse("3.12.1"), "linux-aarch64", "2.28");
    CHECK(t.python_major == 3);
    CHECK(t.python_minor == 12);
    CHECK(t.machine == "aarch64");
    CHECK(t.libc == Libc::glibc);
    CHECK(t.libc_minor == 28);
    CHECK(Target::for_image(Version::parse("3.11"), "linux-64", "2.17.0").libc_minor == 17);
    CHECK_THROWS_AS(Target::for_image(Version::parse("3.11"), "osx-64", "2.17"), envpack::Error);
    CHECK_THROWS_AS(Target::for_image(Version::parse("3.11"), "linux-64", "glibc"), envpack::Error);
    CHECK_THROWS_AS(Target::for_image(Version::parse("3.11"), "linux-64", "1.2"), envpack::Error);
}
