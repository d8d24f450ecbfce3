#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "core/digest.h"
#include "core/error.h"
#include "core/file_digest.h"
#include "core/fs.h"
#include "core/hasher.h"

using namespace envpack;

TEST_CASE("Digest parses and prints sha256 digests exactly") {
    const std::string text =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    auto d = Digest::parse(text);
    REQUIRE(d);
    CHECK(d->to_string() == text);
    CHECK(Digest::of("") == *d);  // sha256 of the empty string
    CHECK(Digest::of("abc").hex() ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("Digest rejects malformed text") {
    for (const char* bad :
         {"", "sha256:", "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
          "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ",
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}) {
        INFO(bad);
        CHECK_FALSE(Digest::parse(bad));
    }
    CHECK_THROWS_AS(Digest::parse_or_throw("nope", "layer digest"), Error);
}

TEST_CASE("Sha256 streaming equals one-shot") {
    Sha256 h;
    h.update("a");
    h.update("bc");
    CHECK(h.finish() == Digest::of("abc"));
}

TEST_CASE("Hasher separates fields, types and schemas") {
    auto key = [](const char* schema, auto... parts) {
        Hasher h(schema);
        (h.add(parts.first, parts.second), ...);
        return h.finish();
    };
    using P = std::pair<const char*, const char*>;
    CHECK(key("s1", P{"a", "bc"}) != key("s1", P{"ab", "c"}));
    CHECK(key("s1", P{"x", "ab"}, P{"y", "c"}) != key("s1", P{"x", "a"}, P{"y", "bc"}));
    CHECK(key("s1", P{"a", "b"}) == key("s1", P{"a", "b"}));
    CHECK(key("s1", P{"a", "b"}) != key("s2", P{"a", "b"}));
    Hasher h1("s");
    h1.add("n", std::int64_t{1});
    Hasher h2("s");
    h2.add("n", "1");
    CHECK(h1.finish() != h2.finish());
    Hasher h3("s");
    h3.add("flag", true);
    Hasher h4("s");
    h4.add("flag", false);
    CHECK(h3.finish() != h4.finish());
}

TEST_CASE("remembered_file_digest: read once, read again when the file changes") {
    TempDir dir("file-digest-");
    const auto file = dir.path() / "w.whl";
    const auto memo = dir.path() / "memo";
    write_file_atomic(file, "first content", Durability::none);
    CHECK(remembered_file_digest(file, memo) == Digest::of("first content"));
    REQUIRE(std::distance(std::filesystem::directory_iterator(memo),
                          std::filesystem::directory_iterator()) == 1);
    // The memo answers while the file is left alone (a memo naming another digest shows it).
    const auto entry = *std::filesystem::directory_iterator(memo);
    write_file_atomic(entry.path(), Digest::of("from the memo").to_string(), Durability::none);
    CHECK(remembered_file_digest(file, memo) == Digest::of("from the memo"));
    // A write in place, same size: the ctime moves, the file is read again.
    {
        int fd = ::open(file.c_str(), O_WRONLY);
        REQUIRE(fd >= 0);
        REQUIRE(::pwrite(fd, "FIRST", 5, 0) == 5);
        ::close(fd);
    }
    CHECK(remembered_file_digest(file, memo) == Digest::of("FIRST content"));
    // A damaged memo, or none asked for: the file is read.
    for (const auto& e : std::filesystem::directory_iterator(memo)) {
        write_file_atomic(e.path(), "garbage", Durability::none);
    }
    CHECK(remembered_file_digest(file, memo) == Digest::of("FIRST content"));
    CHECK(remembered_file_digest(file, {}) == Digest::of("FIRST content"));
    CHECK_THROWS_AS(remembered_file_digest(dir.path() / "missing.whl", memo), Error);
}
