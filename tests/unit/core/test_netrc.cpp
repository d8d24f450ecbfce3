#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/netrc.h"

using namespace envpack;

TEST_CASE("netrc: machines, default, comments, quotes and macdef", "[netrc]") {
    const Netrc n = Netrc::parse(R"(# a comment
machine Repo.Example.com login alice password "s3cret word"
machine other.example.com
  login bob
  password p\w
macdef init
cd /pub
machine hidden.example.com login mallory password x

machine 127.0.0.1 login carol password "q\"uote" account ignored
default login anon password guest
)",
                                 "netrc");
    struct Row {
        const char* host;
        const char* login;
        const char* password;
    };
    const Row rows[] = {
        {"repo.example.com", "alice", "s3cret word"},
        {"REPO.example.com", "alice", "s3cret word"},
        {"other.example.com", "bob", "p\\w"},
        {"127.0.0.1", "carol", "q\"uote"},
        {"unknown.example.com", "anon", "guest"},
        {"hidden.example.com", "anon", "guest"},  // inside the macro body: not an entry
    };
    for (const auto& row : rows) {
        INFO(row.host);
        auto e = n.find(row.host);
        REQUIRE(e);
        CHECK(e->login == row.login);
        CHECK(e->password == row.password);
    }
}

TEST_CASE("netrc: the Authorization header for a channel URL", "[netrc]") {
    const Netrc n = Netrc::parse("machine 127.0.0.1 login user password pass\n", "netrc");
    CHECK(netrc_authorization(n, "http://127.0.0.1:8000/ch/linux-64/repodata.json") ==
          "Basic dXNlcjpwYXNz");
    CHECK_FALSE(netrc_authorization(n, "http://localhost/ch"));
    CHECK_FALSE(netrc_authorization(n, "http://u:p@127.0.0.1/ch"));     // the URL's own credentials
    CHECK_FALSE(netrc_authorization(n, "http://127.0.0.1/t/tk-1/ch"));  // a token channel
    CHECK_FALSE(netrc_authorization(Netrc::parse("", "netrc"), "http://127.0.0.1/ch"));
    const Netrc odd = Netrc::parse("machine a login ab password c\n", "netrc");
    CHECK(netrc_authorization(odd, "https://a/x") == "Basic YWI6Yw==");
}

TEST_CASE("netrc: a keyword without its value names the file and line, not a secret", "[netrc]") {
    try {
        Netrc::parse("machine h login u password s3cr3t\nmachine", "/home/u/.netrc");
        FAIL("no error");
    } catch (const Error& e) {
        const std::string msg = e.what();
        CHECK(msg.find("/home/u/.netrc:2") != std::string::npos);
        CHECK(msg.find("s3cr3t") == std::string::npos);
        CHECK(e.kind() == ErrorKind::bad_input);
    }
    CHECK(Netrc::read("/nonexistent/netrc").empty());
}
