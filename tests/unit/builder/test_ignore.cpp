// The pure ignore engine: wildmatch (cases from git's t/t3070-wildmatch.sh) and gitignore rules.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "builder/detail/wildmatch.h"
#include "builder/ignore.h"

using namespace envpack;

namespace {

struct WildCase {
    const char* pattern;
    const char* text;
    int pathname;  // expected with WM_PATHNAME (1/0)
    int basename;  // expected without flags (1/0, -1: not checked)
};

// From git's t3070-wildmatch.sh ("match <wildmatch> ... <pathmatch> ...").
const WildCase k_cases[] = {
    {"foo", "foo", 1, 1},
    {"foo", "bar", 0, 0},
    {"", "", 1, 1},
    {"???", "foo", 1, 1},
    {"??", "foo", 0, 0},
    {"*", "foo", 1, 1},
    {"f*", "foo", 1, 1},
    {"*f", "foo", 0, 0},
    {"*foo*", "foo", 1, 1},
    {"*ob*a*r*", "foobar", 1, 1},
    {"*ab", "aaaaaaabababab", 1, 1},
    {"foo\\*", "foo*", 1, 1},
    {"foo\\*bar", "foobar", 0, 0},
    {"f\\\\oo", "f\\oo", 1, 1},
    {"*[al]?", "ball", 1, 1},
    {"[ten]", "ten", 0, 0},
    {"**[!te]", "ten", 1, 1},
    {"**[!ten]", "ten", 0, 0},
    {"t[a-g]n", "ten", 1, 1},
    {"t[!a-g]n", "ten", 0, 0},
    {"t[!a-g]n", "ton", 1, 1},
    {"t[^a-g]n", "ton", 1, 1},
    {"a[]]b", "a]b", 1, 1},
    {"a[]-]b", "a-b", 1, 1},
    {"a[]-]b", "a]b", 1, 1},
    {"a[]-]b", "aab", 0, 0},
    {"a[]a-]b", "aab", 1, 1},
    {"]", "]", 1, 1},
    {"foo*bar", "foo/baz/bar", 0, 1},
    {"foo**bar", "foo/baz/bar", 0, 1},
    {"foo**bar", "foobazbar", 1, 1},
    {"foo/**/bar", "foo/baz/bar", 1, 1},
    {"foo/**/**/bar", "foo/baz/bar", 1, -1},
    {"foo/**/bar", "foo/b/a/z/bar", 1, 1},
    {"foo/**/**/bar", "foo/b/a/z/bar", 1, -1},
    {"foo/**/bar", "foo/bar", 1, -1},
    {"foo/**/**/bar", "foo/bar", 1, -1},
    {"foo?bar", "foo/bar", 0, 1},
    {"foo[/]bar", "foo/bar", 0, 1},
    {"foo[^a-z]bar", "foo/bar", 0, 1},
    {"f[^eiu][^eiu][^eiu][^eiu][^eiu]r", "foo/bar", 0, 1},
    {"f[^eiu][^eiu][^eiu][^eiu][^eiu]r", "foo-bar", 1, 1},
    {"**/foo", "foo", 1, -1},
    {"**/foo", "XXX/foo", 1, 1},
    {"**/foo", "bar/baz/foo", 1, 1},
    {"*/foo", "bar/baz/foo", 0, 1},
    {"**/bar*", "foo/bar/baz", 0, -1},
    {"**/bar/*", "deep/foo/bar/baz", 1, 1},
    {"**/bar/*", "deep/foo/bar/baz/", 0, 1},
    {"**/bar/**", "deep/foo/bar/baz/", 1, 1},
    {"**/bar/*", "deep/foo/bar", 0, 0},
    {"**/bar/**", "deep/foo/bar/", 1, 1},
    {"**/bar**", "foo/bar/baz", 0, 1},
    {"*/bar/**", "foo/bar/baz/x", 1, 1},
    {"*/bar/**", "deep/foo/bar/baz/x", 0, 1},
    {"**/bar/*/*", "deep/foo/bar/baz/x", 1, 1},
    {"a[c-c]st", "acrt", 0, 0},
    {"a[c-c]rt", "acrt", 1, 1},
    {"[!]-]", "]", 0, 0},
    {"[!]-]", "a", 1, 1},
    {"\\", "", 0, 0},
    {"\\", "\\", 0, 0},
    {"*/\\", "XXX/\\", 0, 0},
    {"*/\\\\", "XXX/\\", 1, 1},
    {"@foo", "@foo", 1, 1},
    {"@foo", "foo", 0, 0},
    {"\\[ab]", "[ab]", 1, 1},
    {"[[]ab]", "[ab]", 1, 1},
    {"[[:]ab]", "[ab]", 1, 1},
    {"[[::]ab]", "[ab]", 0, 0},
    {"[[:digit]ab]", "[ab]", 1, 1},
    {"[\\[:]ab]", "[ab]", 1, 1},
    {"\\??\\?b", "?a?b", 1, 1},
    {"\\a\\b\\c", "abc", 1, 1},
    {"", "foo", 0, 0},
    {"**/t[o]", "foo/bar/baz/to", 1, 1},
    {"[[:alpha:]][[:digit:]][[:upper:]]", "a1B", 1, 1},
    {"[[:digit:][:upper:][:space:]]", "a", 0, 0},
    {"[[:digit:][:upper:][:space:]]", "A", 1, 1},
    {"[[:digit:][:upper:][:space:]]", "1", 1, 1},
    {"[[:digit:][:upper:][:spaci:]]", "1", 0, 0},
    {"[[:digit:][:upper:][:space:]]", " ", 1, 1},
    {"[[:digit:][:upper:][:space:]]", ".", 0, 0},
    {"[[:digit:][:punct:][:space:]]", ".", 1, 1},
    {"[[:xdigit:]]", "5", 1, 1},
    {"[[:xdigit:]]", "f", 1, 1},
    {"[[:xdigit:]]", "D", 1, 1},
    {"[[:alnum:][:alpha:][:blank:][:cntrl:][:digit:][:graph:][:lower:][:print:][:punct:][:space:]"
     "[:upper:][:xdigit:]]",
     "_", 1, 1},
    {"[^[:alnum:][:alpha:][:blank:][:cntrl:][:digit:][:lower:][:space:][:upper:][:xdigit:]]", ".",
     1, 1},
    {"[a-c[:digit:]x-z]", "5", 1, 1},
    {"[a-c[:digit:]x-z]", "b", 1, 1},
    {"[a-c[:digit:]x-z]", "y", 1, 1},
    {"[a-c[:digit:]x-z]", "q", 0, 0},
    {"[\\\\-^]", "]", 1, 1},
    {"[\\\\-^]", "[", 0, 0},
    {"[\\-_]", "-", 1, 1},
    {"[\\]]", "]", 1, 1},
    {"[\\]]", "\\]", 0, 0},
    {"[\\]]", "\\", 0, 0},
    {"a[]b", "ab", 0, 0},
    {"a[]b", "a[]b", 0, 0},
    {"ab[", "ab[", 0, 0},
    {"[!", "ab", 0, 0},
    {"[-", "ab", 0, 0},
    {"[-]", "-", 1, 1},
    {"[a-", "-", 0, 0},
    {"[!a-", "-", 0, 0},
    {"[--A]", "-", 1, 1},
    {"[--A]", "5", 1, 1},
    {"[ --]", " ", 1, 1},
    {"[ --]", "$", 1, 1},
    {"[ --]", "-", 1, 1},
    {"[ --]", "0", 0, 0},
    {"[---]", "-", 1, 1},
    {"[------]", "-", 1, 1},
    {"[a-e-n]", "j", 0, 0},
    {"[a-e-n]", "-", 1, 1},
    {"[!------]", "a", 1, 1},
    {"[]-a]", "[", 0, 0},
    {"[]-a]", "^", 1, 1},
    {"[!]-a]", "^", 0, 0},
    {"[!]-a]", "[", 1, 1},
    {"[a^bc]", "^", 1, 1},
    {"[a-]b]", "-b]", 1, 1},
    {"[\\]", "\\", 0, 0},
    {"[\\\\]", "\\", 1, 1},
    {"[!\\\\]", "\\", 0, 0},
    {"[A-\\\\]", "G", 1, 1},
    {"b*a", "aaabbb", 0, 0},
    {"*ba*", "aabcaa", 0, 0},
    {"[,]", ",", 1, 1},
    {"[\\\\,]", ",", 1, 1},
    {"[\\\\,]", "\\", 1, 1},
    {"[,-.]", "-", 1, 1},
    {"[,-.]", "+", 0, 0},
    {"[,-.]", "-.]", 0, 0},
    {"[\\1-\\3]", "2", 1, 1},
    {"[\\1-\\3]", "3", 1, 1},
    {"[\\1-\\3]", "4", 0, 0},
    {"[[-\\]]", "\\", 1, 1},
    {"[[-\\]]", "[", 1, 1},
    {"[[-\\]]", "]", 1, 1},
    {"[[-\\]]", "-", 0, 0},
    {"-*-*-*-*-*-*-12-*-*-*-m-*-*-*", "-adobe-courier-bold-o-normal--12-120-75-75-m-70-iso8859-1",
     1, 1},
    {"-*-*-*-*-*-*-12-*-*-*-m-*-*-*", "-adobe-courier-bold-o-normal--12-120-75-75-X-70-iso8859-1",
     0, 0},
    {"-*-*-*-*-*-*-12-*-*-*-m-*-*-*", "-adobe-courier-bold-o-normal--12-120-75-75-/-70-iso8859-1",
     0, 0},
    {"XXX/*/*/*/*/*/*/12/*/*/*/m/*/*/*",
     "XXX/adobe/courier/bold/o/normal//12/120/75/75/m/70/iso8859/1", 1, 1},
    {"XXX/*/*/*/*/*/*/12/*/*/*/m/*/*/*",
     "XXX/adobe/courier/bold/o/normal//12/120/75/75/X/70/iso8859/1", 0, 0},
    {"**/*a*b*g*n*t", "abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txt", 1, 1},
    {"**/*a*b*g*n*t", "abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txtz", 0, 0},
    {"*/*/*", "foo", 0, 0},
    {"*/*/*", "foo/bar", 0, 0},
    {"*/*/*", "foo/bba/arr", 1, 1},
    {"*/*/*", "foo/bb/aa/rr", 0, 1},
    {"**/**/**", "foo/bb/aa/rr", 1, 1},
    {"*X*i", "abcXdefXghi", 1, 1},
    {"*X*i", "ab/cXd/efXg/hi", 0, 1},
    {"*/*X*/*/*i", "ab/cXd/efXg/hi", 1, 1},
    {"**/*X*/**/*i", "ab/cXd/efXg/hi", 1, 1},
    {"fo", "foo", 0, 0},
    {"foo/bar", "foo/bar", 1, 1},
    {"foo/*", "foo/bar", 1, 1},
    {"foo/*", "foo/bba/arr", 0, 1},
    {"foo/**", "foo/bba/arr", 1, 1},
    {"foo*", "foo/bba/arr", 0, 1},
    {"foo**", "foo/bba/arr", 0, 1},
    {"foo/*arr", "foo/bba/arr", 0, 1},
    {"foo/**arr", "foo/bba/arr", 0, 1},
    {"foo/*z", "foo/bba/arr", 0, 0},
    {"foo/**z", "foo/bba/arr", 0, 0},
    {"**/foo/bar", "foo/bar", 1, -1},
};

IgnoreVerdict verdict(std::string_view file, std::string_view path,
                      PathKind kind = PathKind::file) {
    return IgnoreFile::parse(file).match(path, kind);
}

}  // namespace

TEST_CASE("wildmatch agrees with git's t3070 cases", "[ignore]") {
    for (const auto& c : k_cases) {
        INFO("pattern `" << c.pattern << "` text `" << c.text << "`");
        CHECK(wildmatch(c.pattern, c.text, WildmatchMode::pathname) == (c.pathname == 1));
        if (c.basename >= 0) {
            CHECK(wildmatch(c.pattern, c.text, WildmatchMode::basename) == (c.basename == 1));
        }
    }
}

TEST_CASE("compiled globs mean what git's globs mean", "[ignore]") {
    // The compile step shortens runs of '*', flags globs that can never match and computes a lower
    // bound on the text a match consumes; none of that may change a verdict of git's matcher.
    const char* globs[] = {
        "a***b",       "***",      "**/***/c",  "a/****",       "*****b*c",      "\\***",
        "[*]***",      "[***]x",   "x[",        "[[:nope:]]*",  "a\\",           "**/b",
        "a/**/b/**/c", "[!a-]**z", "a?[bc]*/d", "\\*\\*\\*\\*", "[[:alpha:]***", "[]***]*"};
    const char* texts[] = {"",        "a",    "ab",    "a/b",    "a/x/b",     "abc",   "a/b/c",
                           "x/a/b/c", "*",    "**b",   "[***]x", "***",       "a\\",   "b",
                           "x",       "zz/z", "a/b/d", "ab/d",   "a/x/b/y/c", "\\****"};
    for (const char* g : globs) {
        detail::CompiledGlob compiled = detail::compile_glob(g);
        for (const char* t : texts) {
            for (auto mode : {WildmatchMode::pathname, WildmatchMode::basename}) {
                INFO("glob `" << g << "` compiled `" << compiled.glob << "` text `" << t << "`");
                bool git = wildmatch(g, t, mode);
                bool ours = !compiled.never_matches &&
                            std::string_view(t).size() >= compiled.min_text &&
                            wildmatch(compiled.glob, t, mode);
                CHECK(git == ours);
            }
        }
    }
    CHECK(detail::compile_glob("a*****b").glob == "a**b");
    CHECK(detail::compile_glob("[***]").glob == "[***]");
    CHECK(detail::compile_glob("\\****").glob == "\\***");  // an escaped star, then a run
    CHECK(detail::compile_glob("x[").never_matches);
    CHECK(detail::compile_glob("[[:nope:]]").never_matches);
    CHECK_FALSE(detail::compile_glob("[[:digit]").never_matches);
    CHECK(detail::compile_glob("a/**/b?[cd]").min_text == 5);
}

TEST_CASE("ignore lines: comments, blanks, trailing spaces, escapes, CRLF, BOM", "[ignore]") {
    auto one = [](std::string_view text) {
        IgnoreFile f = IgnoreFile::parse(text);
        REQUIRE(f.patterns().size() == 1);
        return f.patterns()[0];
    };
    CHECK(IgnoreFile::parse("# comment\n\n#\n").patterns().empty());
    CHECK(one("foo   ").body == "foo");
    CHECK(one("foo\t").body == "foo\t");  // only spaces are trimmed
    CHECK(one("foo\\ ").body == "foo\\ ");
    CHECK(one("foo\\  ").body == "foo\\ ");
    CHECK(one("foo \\ \\  ").body == "foo \\ \\ ");
    CHECK(one("foo\\").body == "foo\\");
    CHECK(one("foo\r\n").body == "foo");
    CHECK(one("foo \r").body == "foo");
    CHECK(one("\xEF\xBB\xBF"
              "foo\n")
              .body == "foo");
    CHECK(one(std::string_view("foo\0bar\n", 8)).body == "foo");
    CHECK(one(" #x").body == " #x");
    CHECK(IgnoreFile::parse("a\nb\r\n\nc").patterns().size() == 3);
    CHECK(IgnoreFile::parse("a\nb\r\n\nc").patterns()[2].line == 4);

    auto p = one("!/build/");
    CHECK(p.negative);
    CHECK(p.directory_only);
    CHECK_FALSE(p.basename_only);
    CHECK(p.body == "/build");
    CHECK(one("build/").basename_only);
    CHECK_FALSE(one("a/b").basename_only);
    CHECK(one("*.log").ends_with);
    CHECK_FALSE(one("*.l?g").ends_with);
    CHECK(one("abc*d").literal_prefix == 3);
    for (const char* line :
         {"!/build/", "foo\\ ", "\\#x", "\\!x", "a/**/b", "x//", "!!x", "[a-z]*"}) {
        IgnorePattern q = one(line);
        CHECK(q.to_string() == line);
        CHECK(one(q.to_string()) == q);
    }
}

TEST_CASE("ignore semantics of one file", "[ignore]") {
    using V = IgnoreVerdict;
    CHECK(verdict("\\#x\n", "#x") == V::excluded);
    CHECK(verdict("#x\n", "#x") == V::undecided);
    CHECK(verdict("\\!x\n", "!x") == V::excluded);
    CHECK(verdict("!x\n", "x") == V::included);
    CHECK(verdict("foo\\ \n", "foo ") == V::excluded);
    CHECK(verdict("foo \n", "foo ") == V::undecided);
    CHECK(verdict("foo \n", "foo") == V::excluded);
    // Last match wins.
    CHECK(verdict("*.log\n!keep.log\n", "keep.log") == V::included);
    CHECK(verdict("*.log\n!keep.log\n", "x.log") == V::excluded);
    CHECK(verdict("!keep.log\n*.log\n", "keep.log") == V::excluded);
    // Directory-only patterns, and symlinks count as files.
    CHECK(verdict("build/\n", "build", PathKind::file) == V::undecided);
    CHECK(verdict("build/\n", "build", PathKind::directory) == V::excluded);
    CHECK(verdict("build/\n", "x/build", PathKind::directory) == V::excluded);
    // Basename patterns match at any depth; a leading or middle slash anchors.
    CHECK(verdict("foo\n", "a/b/foo") == V::excluded);
    CHECK(verdict("/foo\n", "foo") == V::excluded);
    CHECK(verdict("/foo\n", "a/foo") == V::undecided);
    CHECK(verdict("a/foo\n", "a/foo") == V::excluded);
    CHECK(verdict("a/foo\n", "x/a/foo") == V::undecided);
    CHECK(verdict("a/*\n", "a/foo") == V::excluded);
    CHECK(verdict("a/*\n", "a/foo/bar") == V::undecided);
    CHECK(verdict("**/foo\n", "x/y/foo") == V::excluded);
    CHECK(verdict("a/**/b\n", "a/b") == V::excluded);
    CHECK(verdict("a/**/b\n", "a/x/y/b") == V::excluded);
    CHECK(verdict("a/**\n", "a/x/y") == V::excluded);
    CHECK(verdict("a/**\n", "a") == V::undecided);
    // git matches the literal prefix first and wildmatches the rest from there, so "**" right after
    // the prefix counts as a whole component (checked against git 2.39).
    CHECK(verdict("foo**/bar\n", "foo/x/bar") == V::excluded);
    CHECK_FALSE(wildmatch("foo**/bar", "foo/x/bar", WildmatchMode::pathname));
    // Case-sensitive, bytewise.
    CHECK(verdict("Foo\n", "foo") == V::undecided);
    CHECK(verdict("\xff*\n", "\xff\xfe") == V::excluded);
    CHECK(verdict("[[:alpha:]]\n", "\xe9") == V::undecided);
    // Invalid patterns never match and never throw.
    for (const char* bad : {"[abc", "foo[", "[[:nope:]]", "x\\", "[!", "[[:alpha:", "\\"}) {
        CHECK(verdict(bad, "abc") == V::undecided);
        CHECK(verdict(bad, "foo[") == V::undecided);
        CHECK(verdict(bad, "[abc") == V::undecided);
    }
}

TEST_CASE("pathological patterns stay cheap", "[ignore]") {
    std::string stars(10'000'000, '*');
    CHECK(verdict(stars, "anything") == IgnoreVerdict::excluded);
    std::string literal(10'000'000, 'a');
    CHECK(verdict(literal, "aaa") == IgnoreVerdict::undecided);
    std::string mixed;
    for (int i = 0; i < 1'000'000; ++i) {
        mixed += "*a";
    }
    for (int i = 0; i < 1000; ++i) {
        CHECK(verdict(mixed, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab") ==
              IgnoreVerdict::undecided);
    }
    std::string bracket = "[" + std::string(1'000'000, 'x');
    CHECK(verdict(bracket, "x") == IgnoreVerdict::undecided);
}

TEST_CASE("nested files: deeper files decide first", "[ignore]") {
    auto file = [](std::string_view text) {
        return std::make_shared<const IgnoreFile>(IgnoreFile::parse(text));
    };
    IgnoreStack root = IgnoreStack{}.push("", file("*.txt\nkeep\n/top\n"));
    IgnoreStack sub = root.push("sub", file("!*.txt\n/only\n"));
    CHECK(sub.depth() == 2);
    CHECK(root.excluded("a.txt", PathKind::file));
    CHECK_FALSE(sub.excluded("sub/a.txt", PathKind::file));
    CHECK(sub.excluded("sub/keep", PathKind::file));  // the deeper file says nothing about it
    CHECK(sub.excluded("sub/only", PathKind::file));  // anchored to sub/
    CHECK_FALSE(root.excluded("only", PathKind::file));
    CHECK_FALSE(sub.excluded("sub/top", PathKind::file));  // /top is anchored to the root
    IgnoreStack deeper = sub.push("sub/x", file("# nothing\n"));
    CHECK_FALSE(deeper.excluded("sub/x/b.txt", PathKind::file));
    CHECK(deeper.excluded("sub/x/keep", PathKind::file));
}
