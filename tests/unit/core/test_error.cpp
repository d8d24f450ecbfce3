// Error kinds: set where an error is raised, kept when context is added, exit codes derived.
#include <catch2/catch.hpp>

#include <cerrno>

#include "core/error.h"

using namespace envpack;

TEST_CASE("the plain constructor keeps its exit code and derives the kind from it") {
    CHECK(Error("x").kind() == ErrorKind::failure);
    CHECK(Error("x").code() == ExitCode::failure);
    CHECK(Error("x", "", ExitCode::bad_input).kind() == ErrorKind::bad_input);
    CHECK(Error("x", "", ExitCode::unsatisfiable).kind() == ErrorKind::unsatisfiable);
    CHECK(bad_input("x").kind() == ErrorKind::bad_input);
    CHECK(bad_input("x").code() == ExitCode::bad_input);
}

TEST_CASE("factories set the kind and the exit code follows it") {
    CHECK(auth_error("a").kind() == ErrorKind::auth);
    CHECK(transient_error("t").kind() == ErrorKind::transient);
    CHECK(protocol_error("p").kind() == ErrorKind::protocol);
    CHECK(not_found_error("n").kind() == ErrorKind::not_found);
    CHECK(internal_error("i").kind() == ErrorKind::internal);
    CHECK(internal_error("i").hint().find("bug") != std::string::npos);
    CHECK(Error(ErrorKind::unsatisfiable, "u").code() == ExitCode::unsatisfiable);
    for (auto k : {ErrorKind::auth, ErrorKind::transient, ErrorKind::protocol, ErrorKind::network,
                   ErrorKind::not_found, ErrorKind::io, ErrorKind::conflict, ErrorKind::internal}) {
        CHECK(Error(k, "m").code() == ExitCode::failure);
        CHECK(to_string(k) != "?");
    }
}

TEST_CASE("context, HTTP status and exit code survive on the way up") {
    Error e = transient_error("GET x: HTTP 503", "try later").with_http_status(503);
    Error up = e.with_context("pull blob sha256:ab");
    CHECK(std::string(up.what()) == "pull blob sha256:ab: GET x: HTTP 503");
    CHECK(up.kind() == ErrorKind::transient);
    CHECK(up.http_status() == 503);
    CHECK(up.hint() == "try later");
    Error coded = not_found_error("n").with_exit_code(ExitCode::bad_input);
    CHECK(coded.kind() == ErrorKind::not_found);
    CHECK(coded.with_context("c").code() == ExitCode::bad_input);
    CHECK_FALSE(Error("x").http_status());
}

TEST_CASE("HTTP statuses map to kinds") {
    CHECK(error_kind_for_http_status(401) == ErrorKind::auth);
    CHECK(error_kind_for_http_status(403) == ErrorKind::auth);
    CHECK(error_kind_for_http_status(404) == ErrorKind::not_found);
    CHECK(error_kind_for_http_status(409) == ErrorKind::conflict);
    CHECK(error_kind_for_http_status(408) == ErrorKind::transient);
    CHECK(error_kind_for_http_status(429) == ErrorKind::transient);
    CHECK(error_kind_for_http_status(500) == ErrorKind::transient);
    CHECK(error_kind_for_http_status(503) == ErrorKind::transient);
    CHECK(error_kind_for_http_status(501) == ErrorKind::failure);
    CHECK(error_kind_for_http_status(400) == ErrorKind::failure);
    CHECK_FALSE(is_transient_http_status(505));
    CHECK(is_transient_http_status(502));
}

TEST_CASE("throw_errno: a missing path is not_found with exit 2 - others io or conflict") {
    auto kind_of = [](int err) {
        try {
            throw_errno("open", "/x", err);
        } catch (const Error& e) {
            return std::pair{e.kind(), e.code()};
        }
        return std::pair{ErrorKind::internal, ExitCode::ok};
    };
    CHECK(kind_of(ENOENT) == std::pair{ErrorKind::not_found, ExitCode::bad_input});
    CHECK(kind_of(ENOTDIR) == std::pair{ErrorKind::not_found, ExitCode::bad_input});
    CHECK(kind_of(EEXIST) == std::pair{ErrorKind::conflict, ExitCode::failure});
    CHECK(kind_of(ENOSPC) == std::pair{ErrorKind::io, ExitCode::failure});
}
