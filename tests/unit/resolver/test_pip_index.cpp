// PEP 503 / PEP 691 project pages and URL resolution (RFC 3986's examples).
#include <catch2/catch.hpp>

#include <string>

#include "core/error.h"
#include "resolver/pip_index.h"

using namespace envpack::pip_index;

TEST_CASE("pip_index: URL references resolve as RFC 3986 section 5.4 says") {
    const char* base = "http://a/b/c/d;p?q";
    struct Row {
        const char* ref;
        const char* out;
    };
    const Row rows[] = {
        {"g:h", "g:h"},
        {"g", "http://a/b/c/g"},
        {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"},
        {"/g", "http://a/g"},
        {"//g", "http://g"},
        {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"},
        {"#s", "http://a/b/c/d;p?q#s"},
        {"g#s", "http://a/b/c/g#s"},
        {"g?y#s", "http://a/b/c/g?y#s"},
        {";x", "http://a/b/c/;x"},
        {"g;x", "http://a/b/c/g;x"},
        {"", "http://a/b/c/d;p?q"},
        {".", "http://a/b/c/"},
        {"./", "http://a/b/c/"},
        {"..", "http://a/b/"},
        {"../", "http://a/b/"},
        {"../g", "http://a/b/g"},
        {"../..", "http://a/"},
        {"../../", "http://a/"},
        {"../../g", "http://a/g"},
        {"../../../g", "http://a/g"},
        {"/./g", "http://a/g"},
        {"/../g", "http://a/g"},
        {"g.", "http://a/b/c/g."},
        {"..g", "http://a/b/c/..g"},
        {"./../g", "http://a/b/g"},
        {"./g/.", "http://a/b/c/g/"},
        {"g/./h", "http://a/b/c/g/h"},
        {"g/../h", "http://a/b/c/h"},
    };
    for (const auto& row : rows) {
        INFO(row.ref);
        CHECK(join_url(base, row.ref) == row.out);
    }
    CHECK(join_url("file:///srv/wheels/", "pip-23.0.1-py3-none-any.whl") ==
          "file:///srv/wheels/pip-23.0.1-py3-none-any.whl");
    CHECK(join_url("http://127.0.0.1:8000/simple/pip/", "../../packages/p.whl") ==
          "http://127.0.0.1:8000/packages/p.whl");
}

TEST_CASE("pip_index: file kinds and percent-decoding") {
    CHECK(kind_of("pip-23.0.1-py3-none-any.whl") == FileKind::wheel);
    CHECK(kind_of("pip-23.0.1.tar.gz") == FileKind::sdist);
    CHECK(kind_of("pip-23.0.1.ZIP") == FileKind::sdist);
    CHECK(kind_of("pip-23.0.1.exe") == FileKind::other);
    CHECK(percent_decode("torch-2.1.0%2Bcpu-cp311-cp311-linux_x86_64.whl") ==
          "torch-2.1.0+cpu-cp311-cp311-linux_x86_64.whl");
    CHECK(percent_decode("100%") == "100%");
    CHECK(percent_decode("%zz") == "%zz");
}

TEST_CASE("pip_index: a PEP 503 page") {
    const char* html = R"(<!DOCTYPE html>
<html><head><title>Links for demo</title></head><body>
<h1>Links for demo</h1>
<!-- <a href="commented-1.0-py3-none-any.whl">no</a> -->
<a href="/packages/demo-1.0-py3-none-any.whl#sha256=ABCdef0123">demo-1.0-py3-none-any.whl</a><br/>
<a href="../../packages/demo-2.0-py3-none-any.whl#sha256=0123abcd" data-requires-python="&gt;=3.8" data-core-metadata="sha256=feed">demo-2.0</a>
<A HREF='demo-2.1.tar.gz' data-yanked>sdist</A>
<a href=demo-3.0%2Blocal-py3-none-any.whl data-yanked="broken &amp; bad" data-dist-info-metadata="true">x</a>
<a>no href</a>
</body></html>)";
    auto files = parse_simple_html(html, "http://127.0.0.1:8000/simple/demo/");
    REQUIRE(files.size() == 4);
    CHECK(files[0].filename == "demo-1.0-py3-none-any.whl");
    CHECK(files[0].url == "http://127.0.0.1:8000/packages/demo-1.0-py3-none-any.whl");
    CHECK(files[0].hashes.empty());  // pip's fragment pattern is lower-case hex only
    CHECK(files[0].kind == FileKind::wheel);
    CHECK_FALSE(files[0].yanked);
    CHECK_FALSE(files[0].has_metadata);

    CHECK(files[1].url == "http://127.0.0.1:8000/packages/demo-2.0-py3-none-any.whl");
    CHECK(files[1].hashes.at("sha256") == "0123abcd");
    CHECK(files[1].requires_python == ">=3.8");
    CHECK(files[1].has_metadata);
    CHECK(files[1].metadata_hashes.at("sha256") == "feed");

    CHECK(files[2].url == "http://127.0.0.1:8000/simple/demo/demo-2.1.tar.gz");
    CHECK(files[2].kind == FileKind::sdist);
    REQUIRE(files[2].yanked);
    CHECK(files[2].yanked->empty());

    CHECK(files[3].filename == "demo-3.0+local-py3-none-any.whl");
    CHECK(files[3].yanked == "broken & bad");
    CHECK(files[3].has_metadata);
    CHECK(files[3].metadata_hashes.empty());

    // <base href> moves the links; garbage has no links.
    auto based =
        parse_simple_html(R"(<base href="http://mirror/files/"><a href="x-1.0-py3-none-any.whl">)",
                          "http://index/simple/x/");
    REQUIRE(based.size() == 1);
    CHECK(based[0].url == "http://mirror/files/x-1.0-py3-none-any.whl");
    CHECK(parse_simple_html("\x01\x02 not <html at all >>> <<", "http://i/").empty());
}

TEST_CASE("pip_index: a PEP 691 page") {
    const char* json = R"({
      "meta": {"api-version": "1.1"}, "name": "demo",
      "files": [
        {"filename": "demo-1.0-py3-none-any.whl", "url": "../../packages/demo-1.0-py3-none-any.whl",
         "hashes": {"sha256": "aa11"}, "requires-python": ">=3.8", "core-metadata": {"sha256": "bb22"}},
        {"filename": "demo-1.1.tar.gz", "url": "https://files/demo-1.1.tar.gz", "hashes": {},
         "yanked": "security", "requires-python": null},
        {"filename": "demo-1.2-py3-none-any.whl", "url": "demo-1.2-py3-none-any.whl", "hashes": {},
         "yanked": true, "dist-info-metadata": true}
      ]})";
    auto files = parse_simple_json(json, "http://127.0.0.1:9/simple/demo/");
    REQUIRE(files.size() == 3);
    CHECK(files[0].url == "http://127.0.0.1:9/packages/demo-1.0-py3-none-any.whl");
    CHECK(files[0].hashes.at("sha256") == "aa11");
    CHECK(files[0].requires_python == ">=3.8");
    CHECK(files[0].metadata_hashes.at("sha256") == "bb22");
    CHECK(files[1].kind == FileKind::sdist);
    CHECK(files[1].yanked == "security");
    CHECK(files[1].requires_python.empty());
    CHECK(files[2].yanked == "");
    CHECK(files[2].has_metadata);

    for (const char* bad :
         {"<html></html>", "{}", R"({"files": [{"filename": "x"}]})", R"({"files": {}})"}) {
        INFO(bad);
        try {
            parse_simple_json(bad, "http://i/simple/x/");
            FAIL("no error");
        } catch (const envpack::Error& e) {
            CHECK(e.kind() == envpack::ErrorKind::protocol);
            CHECK(std::string(e.what()).find("http://i/simple/x/") != std::string::npos);
        }
    }
}
