#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include "core/error.h"
#include "core/yaml.h"

using namespace envpack;
using envpack::yaml::Document;
using envpack::yaml::Node;
using envpack::yaml::Value;

namespace {

// The message of the bad-input Error `f` throws ("" if it throws nothing).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::bad_input);
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("yaml: positions, styles and kinds", "[yaml]") {
    Document doc = Document::parse("a: 1\nb: \"2\"\nc:\nd: [x, 'y', ~]\ne: |\n  hi\n", "f.yml");
    const Node& root = doc.root();
    REQUIRE(root.is_map());
    REQUIRE(root.items().size() == 5);
    const Node* a = root.find("a");
    REQUIRE(a != nullptr);
    CHECK(a->text() == "1");
    CHECK(a->style() == yaml::Style::plain);
    CHECK(a->mark().pos == SourcePos{1, 4});
    CHECK(a->key_mark().pos == SourcePos{1, 1});
    CHECK(root.find("b")->style() == yaml::Style::quoted);
    // An empty value points at its key, not at the next line.
    CHECK(root.find("c")->is_null());
    CHECK(root.find("c")->mark().pos == SourcePos{3, 1});
    const Node* d = root.find("d");
    REQUIRE(d->is_sequence());
    CHECK(d->items()[1].style() == yaml::Style::quoted);
    CHECK(d->items()[2].is_null());
    CHECK(d->items()[2].mark().pos == SourcePos{4, 13});
    CHECK(root.find("e")->text() == "hi\n");
    CHECK(root.find("nope") == nullptr);
}

TEST_CASE("yaml: malformed documents and duplicate keys are located", "[yaml]") {
    struct Case {
        const char* text;
        const char* expected;
    };
    const Case cases[] = {
        {"a: [1\nb: 2\n", "f.yml:2:"},
        {"a: 1\na: 2\n", "f.yml:2:1: duplicate key `a`\n  a: 2\n  ^"},
        {"x:\n  k: 1\n  k: 2\n", "f.yml:3:3: duplicate key `k`"},
        {"? [a]\n: 1\n", "a key must be a plain string"},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        std::string message = error_of([&] { (void)Document::parse(c.text, "f.yml"); });
        CHECK_THAT(message, Catch::Contains(c.expected));
    }
}

TEST_CASE("yaml: typed reads fail with the path, the value and the position", "[yaml]") {
    Document doc = Document::parse(
        "n: two\nq: '3'\nf: 1.5\nb: maybe\nm: {x: 1}\nl: [1]\ns: ok\nneg: -4\n", "job.yml");
    Value root(doc, doc.root(), "");
    struct Case {
        std::function<void()> read;
        const char* expected;
    };
    const Case cases[] = {
        {[&] { (void)root.get("n")->integer(); },
         "job.yml:1:4: `n` must be an integer, got `two`\n  n: two\n     ^"},
        {[&] { (void)root.get("q")->integer(); },
         "job.yml:2:4: `q` must be an integer, got the string `3`"},
        {[&] { (void)root.get("f")->integer(); }, "job.yml:3:4: `f` must be an integer, got `1.5`"},
        {[&] { (void)root.get("b")->boolean(); },
         "job.yml:4:4: `b` must be true or false, got `maybe`"},
        {[&] { (void)root.get("m")->str(); }, "job.yml:5:4: `m` must be a string, got a mapping"},
        {[&] { (void)root.get("l")->entries(); }, "job.yml:6:4: `l` must be a mapping, got a list"},
        {[&] { (void)root.get("s")->items(); }, "job.yml:7:4: `s` must be a list, got `ok`"},
        {[&] { (void)root.get("neg")->integer(1); },
         "job.yml:8:6: `neg` must be at least 1, got -4"},
        {[&] {
             (void)root.get("s")->one_of({"on", "off", "ko"});
         },
         "`s` must be one of on, off, ko, got `ok` (did you mean `on`?)"},
        {[&] {
             root.expect_keys({"n", "q", "f", "b", "m", "l", "s"}, "the test file");
         },
         "job.yml:8:1: unknown key `neg` in the test file"},
    };
    for (const auto& c : cases) {
        INFO(c.expected);
        CHECK_THAT(error_of(c.read), Catch::Contains(c.expected));
    }
    CHECK(root.get("f")->number() == 1.5);
    CHECK(root.get("neg")->integer() == -4);
    CHECK(root.get("q")->str() == "3");
    CHECK(root.get("m")->get("x")->path() == "m.x");
    CHECK(!root.get("zzz").has_value());
}

TEST_CASE("yaml: unknown keys suggest the closest allowed one", "[yaml]") {
    Document doc = Document::parse("resources:\n  instance_cout: 2\n", "job.yml");
    Value res = *Value(doc, doc.root(), "").get("resources");
    std::string message = error_of([&] {
        res.expect_keys({"instance_count", "instance_type", "shm_size"}, "`resources`");
    });
    CHECK_THAT(message, Catch::Contains("job.yml:2:3: unknown key `instance_cout` in `resources` "
                                        "(did you mean `instance_count`?)"));
}

TEST_CASE("yaml: --set overrides replace, create and index", "[yaml]") {
    Document doc = Document::parse(
        "resources: {instance_count: 1}\ndistribution: {type: mpi}\nhosts: [{name: a}]\n",
        "job.yml");
    doc.apply_override("resources.instance_count=4");
    doc.apply_override("distribution.type=pytorch");
    doc.apply_override("limits.timeout=60");
    doc.apply_override("hosts.0.name=b");
    doc.apply_override("hosts.1={name: c, address: 10.0.0.3}");
    doc.apply_override("tags.list=[1, 2]");
    doc.apply_override("description='quoted: yes'");
    doc.apply_override("empty=");
    Value root(doc, doc.root(), "");
    CHECK(root.get("resources")->get("instance_count")->integer() == 4);
    CHECK(root.get("distribution")->get("type")->str() == "pytorch");
    CHECK(root.get("limits")->get("timeout")->integer() == 60);
    auto hosts = root.get("hosts")->items();
    REQUIRE(hosts.size() == 2);
    CHECK(hosts[0].get("name")->str() == "b");
    CHECK(hosts[1].get("address")->str() == "10.0.0.3");
    CHECK(root.get("tags")->get("list")->items().size() == 2);
    CHECK(root.get("description")->str() == "quoted: yes");
    CHECK(root.get("empty")->is_null());
    // A value from an override points into the override in errors.
    doc.apply_override("resources.instance_count=two");
    std::string message = error_of([&] {
        (void)Value(doc, doc.root(), "").get("resources")->get("instance_count")->integer();
    });
    CHECK(message ==
          "--set:1:26: `resources.instance_count` must be an integer, got `two`\n"
          "  resources.instance_count=two\n"
          "                           ^");
}

TEST_CASE("yaml: malformed overrides", "[yaml]") {
    Document doc = Document::parse("command: echo\nhosts: [a]\n", "job.yml");
    struct Case {
        const char* set;
        const char* expected;
    };
    const Case cases[] = {
        {"resources", "--set:1:10: expected KEY=VALUE"},
        {"a..b=1", "--set:1:3: empty key in the path"},
        {"command.x=1", "--set:1:9: `command` is a scalar (`echo`): it has no key `x`"},
        {"hosts.x=1", "--set:1:7: `hosts` is a list: expected an index, got `x`"},
        {"hosts.5=1", "--set:1:7: `hosts` has 1 entries: index 5 is past its end"},
        {"a=[1", "--set:1:"},
    };
    for (const auto& c : cases) {
        INFO(c.set);
        CHECK_THAT(error_of([&] { doc.apply_override(c.set); }), Catch::Contains(c.expected));
    }
}

TEST_CASE("yaml: emit reads back as the same tree", "[yaml]") {
    const char* text =
        "$schema: https://x/y.json\n"
        "command: >-\n  python train.py\n  --epochs ${{inputs.epochs}}\n"
        "inputs:\n  epochs: 1\n  rate: 0.2\n  flag: true\n  s: 'true'\n  d: {type: uri_folder, "
        "path: ./data}\n"
        "hosts:\n  - {name: a, address: 10.0.0.1}\n  - {name: b}\n"
        "nested: [[1, 2], []]\n"
        "empty_map: {}\n"
        "nothing:\n"
        "multi: |\n  line 1\n  line \"2\"\n"
        "quote: \"it's\"\n";
    Document doc = Document::parse(text, "f.yml");
    std::string out = yaml::emit(doc.root());
    INFO(out);
    Document again = Document::parse(out, "out.yml");
    CHECK(again.root() == doc.root());
    CHECK(yaml::emit(again.root()) == out);
    CHECK(yaml::emit(Node::map()) == "{}\n");
}

TEST_CASE("yaml: quote", "[yaml]") {
    CHECK(yaml::quote("numpy") == "numpy");
    CHECK(yaml::quote("$schema") == "$schema");
    CHECK(yaml::quote("./src") == "./src");
    CHECK(yaml::quote(".inf") == "'.inf'");
    CHECK(yaml::quote("1.5") == "'1.5'");
    CHECK(yaml::quote("yes") == "'yes'");
    CHECK(yaml::quote("") == "''");
    CHECK(yaml::quote("it's") == "'it''s'");
    CHECK(yaml::quote("a\nb") == "\"a\\nb\"");
    CHECK(yaml::text_line("a\nb\r\nc", 2) == "b");
    CHECK(yaml::text_line("a", 3).empty());
}
