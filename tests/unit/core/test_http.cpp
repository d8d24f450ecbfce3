// Pure helpers of core/http.h: URL resolution (Location headers), origins, redaction.
#include <catch2/catch.hpp>

#include "core/http.h"

using namespace envpack;

TEST_CASE("Location headers resolve absolute or relative") {
    const std::string base = "http://127.0.0.1:5000/v2/team/env/blobs/uploads/";
    CHECK(resolve_url(base, "/v2/team/env/blobs/uploads/abc?_state=x") ==
          "http://127.0.0.1:5000/v2/team/env/blobs/uploads/abc?_state=x");
    CHECK(resolve_url(base, "abc") == "http://127.0.0.1:5000/v2/team/env/blobs/uploads/abc");
    CHECK(resolve_url(base, "https://s3.example.com/bucket/x?sig=1") ==
          "https://s3.example.com/bucket/x?sig=1");
    CHECK(resolve_url("https://h/v2/x/tags/list?n=2", "/v2/x/tags/list?n=2&last=b") ==
          "https://h/v2/x/tags/list?n=2&last=b");
}

TEST_CASE("origins fill in default ports") {
    CHECK(url_origin("https://Example.com/x") == "https://example.com:443");
    CHECK(url_origin("https://example.com:443/y") == "https://example.com:443");
    CHECK(url_origin("http://127.0.0.1:5000/v2/") == "http://127.0.0.1:5000");
    CHECK(url_origin("http://127.0.0.1:5000/") != url_origin("http://127.0.0.1:5001/"));
    CHECK(url_host("http://127.0.0.1:5000/v2/") == "127.0.0.1");
}

TEST_CASE("redact removes credentials") {
    CHECK(redact("Authorization: Bearer abc.def.ghi") == "Authorization: Bearer <redacted>");
    CHECK(redact("authorization: Basic dXNlcjpwYXNz").find("dXNlcjpwYXNz") == std::string::npos);
    CHECK(redact("https://user:hunter2@host/x") == "https://<redacted>@host/x");
    CHECK(redact("GET https://h/token?service=x&access_token=sekrit&x=1").find("sekrit") ==
          std::string::npos);
    CHECK(redact(R"({"token":"sekrit","expires_in":60})").find("sekrit") == std::string::npos);
    CHECK(redact("password=hunter2").find("hunter2") == std::string::npos);
    CHECK(redact("nothing secret here") == "nothing secret here");
}
