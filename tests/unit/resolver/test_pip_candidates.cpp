// Choosing a project's files for one requirement, as pip's finder and resolver do.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "resolver/pip_candidates.h"

using namespace envpack;
using pip_candidates::Query;
using pip_index::IndexFile;

namespace {

IndexFile file(const std::string& name, std::string requires_python = {},
               std::optional<std::string> yanked = std::nullopt) {
    IndexFile f;
    f.filename = name;
    f.url = "http://i/" + name;
    f.kind = pip_index::kind_of(name);
    f.requires_python = std::move(requires_python);
    f.yanked = std::move(yanked);
    return f;
}

const wheel::TargetTags& image() {
    static const wheel::TargetTags tags(
        wheel::Target::for_image(pep440::Version::parse("3.11.4"), "linux-64", "2.31"));
    return tags;
}

std::vector<std::string> chosen(const std::vector<IndexFile>& files, const char* spec,
                                pep440::PreReleases pre = pep440::PreReleases::by_specifier,
                                const char* project = "Demo_Pkg") {
    Query q{project, pep440::SpecifierSet::parse(spec), pre, pep440::Version::parse("3.11.4")};
    std::vector<std::string> out;
    for (const auto& c : pip_candidates::select(files, q, image()).candidates) {
        out.push_back(c.file.filename);
    }
    return out;
}

}  // namespace

TEST_CASE("pip_candidates: newest first, one file per version, the best tag for each") {
    const std::vector<IndexFile> files = {
        file("demo_pkg-1.0-py3-none-any.whl"),
        file("demo_pkg-2.0-py3-none-any.whl"),
        file("demo_pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        file("demo_pkg-2.0-cp311-cp311-manylinux_2_34_x86_64.whl"),  // needs a newer glibc
        file("demo_pkg-1.5-1-py3-none-any.whl"),
        file("demo_pkg-1.5-py3-none-any.whl"),
        file("demo_pkg-3.0b1-py3-none-any.whl"),
        file("demo_pkg-2.5.tar.gz"),
        file("Demo.Pkg-1.2-py3-none-any.whl"),
        file("other-9.0-py3-none-any.whl"),
    };
    CHECK(chosen(files, "") ==
          std::vector<std::string>{"demo_pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                                   "demo_pkg-1.5-1-py3-none-any.whl",
                                   "Demo.Pkg-1.2-py3-none-any.whl",
                                   "demo_pkg-1.0-py3-none-any.whl"});
    CHECK(chosen(files, "<2,!=1.5") == std::vector<std::string>{"Demo.Pkg-1.2-py3-none-any.whl",
                                                                "demo_pkg-1.0-py3-none-any.whl"});
    CHECK(chosen(files, ">=2.0b1").front() == "demo_pkg-3.0b1-py3-none-any.whl");
    CHECK(chosen(files, "", pep440::PreReleases::allow).front() ==
          "demo_pkg-3.0b1-py3-none-any.whl");
    // Only a pre-release matches: it is taken.
    CHECK(chosen(files, ">2.5") == std::vector<std::string>{"demo_pkg-3.0b1-py3-none-any.whl"});

    Query q{"demo-pkg", {}, pep440::PreReleases::by_specifier, pep440::Version::parse("3.11.4")};
    auto sel = pip_candidates::select(files, q, image());
    std::vector<std::string> reasons;
    for (const auto& r : sel.rejected) {
        reasons.push_back(r.filename + ": " + r.reason);
    }
    REQUIRE(sel.rejected.size() == 3);
    CHECK(reasons[0].find("manylinux_2_34") != std::string::npos);
    CHECK(reasons[0].find("glibc 2.34") != std::string::npos);
    CHECK(reasons[1] == "demo_pkg-2.5.tar.gz: a source distribution; envpack installs wheels only");
    CHECK(reasons[2].find("a wheel of `other`") != std::string::npos);
}

TEST_CASE("pip_candidates: requires-python and yanked files") {
    const std::vector<IndexFile> files = {
        file("demo_pkg-1.0-py3-none-any.whl"),
        file("demo_pkg-2.0-py3-none-any.whl", ">=3.12"),
        file("demo_pkg-1.9-py3-none-any.whl", "not a specifier"),  // ignored, as pip does
        file("demo_pkg-1.5-py3-none-any.whl", "", "broken"),
    };
    CHECK(chosen(files, "") == std::vector<std::string>{"demo_pkg-1.9-py3-none-any.whl",
                                                        "demo_pkg-1.0-py3-none-any.whl"});
    // A yanked file only when it alone satisfies a pin.
    CHECK(chosen(files, "==1.5") == std::vector<std::string>{"demo_pkg-1.5-py3-none-any.whl"});
    CHECK(chosen(files, "===1.5") == std::vector<std::string>{"demo_pkg-1.5-py3-none-any.whl"});
    CHECK(chosen(files, ">=1.5,<1.6").empty());
    CHECK(chosen(files, "==1.5.*").empty());
}

TEST_CASE("pip_candidates: the real wheels Debian ships (python-pip-whl)") {
    const std::filesystem::path dir = "/usr/share/python-wheels";
    if (!std::filesystem::is_directory(dir)) {
        WARN("no " << dir << " here (Debian's python-pip-whl); nothing to check");
        return;
    }
    std::vector<IndexFile> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        files.push_back(file(entry.path().filename().string()));
    }
    Query q{"pip", {}, pep440::PreReleases::by_specifier, pep440::Version::parse("3.11.4")};
    auto sel = pip_candidates::select(files, q, image());
    REQUIRE(sel.candidates.size() == 1);
    CHECK(sel.candidates[0].wheel.normalized_name() == "pip");
    CHECK(sel.candidates[0].tag_rank == image().rank(wheel::Tag::parse("py3-none-any")));
    for (const auto& r : sel.rejected) {
        CHECK(r.reason.find("a wheel of `") == 0);  // only the other projects' wheels
    }
}
