#include <catch2/catch.hpp>

#include "builder/wheel_files.h"
#include "core/digest.h"
#include "core/error.h"

using namespace envpack;
using namespace envpack::wheel_files;

TEST_CASE("wheel_files: RECORD hashes as pip writes them (urlsafe base64, no padding)") {
    CHECK(record_hash(Digest::of("hello")) == "sha256=LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ");
    CHECK(record_hash(Digest::of("")) == "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
}

TEST_CASE("wheel_files: RECORD is read as csv") {
    auto rows = parse_record(
        "a/b.py,sha256=x,12\r\n\"odd,name.py\",sha256=y,3\n\n\"q\"\"uote\",,\nx.dist-info/"
        "RECORD,,\n",
        "RECORD");
    REQUIRE(rows.size() == 4);
    CHECK(rows[0] == RecordRow{"a/b.py", "sha256=x", "12"});
    CHECK(rows[1].path == "odd,name.py");
    CHECK(rows[2].path == "q\"uote");
    CHECK(rows[3] == RecordRow{"x.dist-info/RECORD", "", ""});
    CHECK(parse_record("only-a-path\n", "R")[0] == RecordRow{"only-a-path", "", ""});
    CHECK_THROWS_WITH(parse_record("a,b,c,d\n", "w.whl:RECORD"),
                      Catch::Contains("w.whl:RECORD:1") && Catch::Contains("a,b,c,d"));
    CHECK_THROWS_WITH(parse_record("ok,,\n\"open,b,c\n", "R"), Catch::Contains("R:2"));
}

TEST_CASE("wheel_files: RECORD is written sorted, minimally quoted, with CRLF") {
    std::string text = write_record({{"z.py", "sha256=z", "1"},
                                     {"../../../bin/a", "sha256=a", "2"},
                                     {"x,y.py", "", ""},
                                     {"b.dist-info/RECORD", "", ""}});
    CHECK(text ==
          "../../../bin/a,sha256=a,2\r\n"
          "b.dist-info/RECORD,,\r\n"
          "\"x,y.py\",,\r\n"
          "z.py,sha256=z,1\r\n");
    CHECK(parse_record(text, "R").size() == 4);
}

TEST_CASE("wheel_files: entry points and pip's script names") {
    auto eps = EntryPoints::parse(
        "# comment\n[console_scripts]\npip = pip._internal.cli.main:main\npip3 = "
        "pip._internal.cli.main:main\npip3.9 = pip._internal.cli.main:main\n"
        "tool = pkg.cli:App.run [extra]\n\n[gui_scripts]\ng = pkg.gui:main\n[other]\nx = y:z\n");
    REQUIRE(eps.console.size() == 4);
    REQUIRE(eps.gui.size() == 1);
    auto scripts = console_scripts(eps, 3, 11, "ep");
    REQUIRE(scripts.size() == 4);
    CHECK(scripts[0].name == "pip");
    CHECK(scripts[1].name == "pip3");
    CHECK(scripts[2].name == "pip3.11");
    CHECK(scripts[3].name == "tool");
    CHECK(scripts[3].module == "pkg.cli");
    CHECK(scripts[3].attr == "App.run");
    auto ei = console_scripts(EntryPoints::parse("[console_scripts]\neasy_install = "
                                                 "setuptools.command.easy_install:main\n"
                                                 "easy_install-3.7 = setuptools:main\n"),
                              3, 11, "ep");
    REQUIRE(ei.size() == 2);
    CHECK(ei[1].name == "easy_install-3.11");
    CHECK_THROWS_WITH(EntryPoint::parse("bad", "module_only", "x.whl"),
                      Catch::Contains("callable suffix"));
    CHECK_THROWS_WITH(EntryPoint::parse("../evil", "m:f", "x.whl"), Catch::Contains("file name"));
    CHECK_THROWS(EntryPoint::parse("ok", "m:f-g", "x.whl"));
}

TEST_CASE("wheel_files: scripts are distlib's, byte for byte") {
    EntryPoint e{"alpha", "alpha.cli", "main"};
    CHECK(script_text(e, "/opt/conda/bin/python") ==
          "#!/opt/conda/bin/python\n"
          "# -*- coding: utf-8 -*-\n"
          "import re\n"
          "import sys\n"
          "from alpha.cli import main\n"
          "if __name__ == '__main__':\n"
          "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
          "    sys.exit(main())\n");
    EntryPoint m{"t", "pkg", "App.run"};
    CHECK_THAT(script_text(m, "/p/python"),
               Catch::Contains("from pkg import App\n") && Catch::Contains("sys.exit(App.run())"));
    CHECK(shebang("/with space/python") ==
          "#!/bin/sh\n'''exec' /with space/python \"$0\" \"$@\"\n' '''\n");
    std::string long_path = "/" + std::string(130, 'x') + "/python";
    CHECK(shebang(long_path).starts_with("#!/bin/sh\n"));
}

TEST_CASE("wheel_files: #!python is rewritten, other first lines are not") {
    CHECK(rewrite_python_shebang("#!python\nprint(1)\n", "/p/bin/python") ==
          "#!/p/bin/python\nprint(1)\n");
    CHECK(rewrite_python_shebang("#!pythonw -u\nx\n", "/p/bin/python") == "#!/p/bin/python\nx\n");
    CHECK_FALSE(rewrite_python_shebang("#!/bin/sh\necho\n", "/p/bin/python"));
    CHECK_FALSE(rewrite_python_shebang("", "/p/bin/python"));
}
