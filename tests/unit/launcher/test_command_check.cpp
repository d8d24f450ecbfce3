#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/fs.h"
#include "launcher/command_check.h"
#include "launcher/local_backend.h"

using namespace envpack;
namespace fs = std::filesystem;

TEST_CASE("first_command_word: the plain first command of a script, or nothing") {
    struct Case {
        const char* script;
        std::optional<std::string> word;
    };
    const Case cases[] = {
        {"python train.py --lr 0.1", "python"},
        {"  /opt/conda/bin/python -u x.py", "/opt/conda/bin/python"},
        {"A=1 B=two nosuch --x", "nosuch"},
        {"mkdir -p outputs && cat x", "mkdir"},
        {"true; false", "true"},
        {"cd src && python x.py", std::nullopt},
        {"if [ -f x ]; then y; fi", std::nullopt},
        {"echo hi", std::nullopt},
        {"exit 3", std::nullopt},
        {"$PY train.py", std::nullopt},
        {"\"quoted\" x", std::nullopt},
        {"(subshell)", std::nullopt},
        {"", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.script);
        CHECK(first_command_word(c.script) == c.word);
    }
}

TEST_CASE("programs_of: argv[0], and the script's first command under sh -c") {
    using V = std::vector<std::string>;
    CHECK(programs_of({"/bin/sh", "-c", "nosuch arg"}) == V{"/bin/sh", "nosuch"});
    CHECK(programs_of({"bash", "-c", "cd x"}) == V{"bash"});
    CHECK(programs_of({"python3", "-c", "print(1)"}) == V{"python3"});
    CHECK(programs_of({}).empty());
}

TEST_CASE("check_command resolves in the rootfs, following links inside it") {
    TempDir root("envpack-cmdcheck-");
    const auto& r = root.path();
    fs::create_directories(r / "usr/bin");
    fs::create_directory_symlink("usr/bin", r / "bin");  // Debian's merged /usr
    {
        std::ofstream(r / "usr/bin/busybox") << "x";
        std::ofstream(r / "usr/bin/data.txt") << "x";
    }
    fs::permissions(r / "usr/bin/busybox", fs::perms(0755));
    fs::permissions(r / "usr/bin/data.txt", fs::perms(0644));
    fs::create_symlink("/bin/busybox", r / "usr/bin/sh");         // absolute: inside the rootfs
    fs::create_symlink("../../../../../etc", r / "usr/bin/escape");  // never leaves it
    std::string found;
    CHECK(check_command(r, "sh", "/usr/local/bin:/bin", "/", &found) == CommandCheck::runnable);
    CHECK(found == "/bin/sh");
    CHECK(check_command(r, "/bin/sh", "", "/") == CommandCheck::runnable);
    CHECK(check_command(r, "nosuch", "/bin:/usr/bin", "/") == CommandCheck::not_found);
    CHECK(check_command(r, "data.txt", "/bin", "/") == CommandCheck::not_executable);
    CHECK(check_command(r, "./busybox", "", "/usr/bin") == CommandCheck::runnable);
    CHECK(check_command(r, "escape/passwd", "", "/usr/bin") == CommandCheck::not_found);
    auto resolved = resolve_in_rootfs(r, "/bin/sh");
    REQUIRE(resolved);
    CHECK(*resolved == r / "usr/bin/busybox");
}

TEST_CASE("log_name turns labels into file stems") {
    CHECK(log_name("rank 3") == "rank-3");
    CHECK(log_name("main") == "main");
    CHECK(log_name("") == "main");
}
