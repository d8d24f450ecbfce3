// The broker's wire format and quoting (pure), and the agent -> broker -> runtime exec path with
// a fake runtime that runs the process JSON's args on this host: fds passed through, the exit
// code relayed, unknown nodes refused.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "core/fs.h"
#include "core/process.h"
#include "launcher/broker.h"

using namespace envpack;
namespace fs = std::filesystem;

TEST_CASE("broker requests round-trip through the wire format") {
    ExecRequest r{
        "node1", {"/bin/sh", "-c", "orted -mca ess \"env\" x"}, {{"A", "1"}, {"B", "x=y"}}};
    std::string bytes = encode_request(r);
    REQUIRE(bytes.size() > 4);
    std::size_t len = (static_cast<unsigned char>(bytes[0]) << 24) |
                      (static_cast<unsigned char>(bytes[1]) << 16) |
                      (static_cast<unsigned char>(bytes[2]) << 8) |
                      static_cast<unsigned char>(bytes[3]);
    CHECK(len == bytes.size() - 4);
    auto back = decode_request(std::string_view(bytes).substr(4));
    REQUIRE(back);
    CHECK(*back == r);
    // Empty arguments survive.
    ExecRequest e{"n", {"true", ""}, {}};
    CHECK(*decode_request(encode_request(e).substr(4)) == e);
}

TEST_CASE("malformed broker requests are refused with a reason") {
    using namespace std::string_literals;
    struct Case {
        std::string payload;
        std::string why;
    };
    std::vector<Case> cases = {
        {""s, "not an envpack-broker/1"},
        {"envpack-broker/2\0exec\0"s, "not an envpack-broker/1"},
        {"envpack-broker/1\0run\0"s, "unknown request"},
        {"envpack-broker/1\0exec\0\0"s, "no node"},
        {"envpack-broker/1\0exec\0n\0"
         "0\0"
         "0\0"s,
         "no command"},
        {"envpack-broker/1\0exec\0n\0"
         "2\0a\0"s,
         "fewer arguments"},
        {"envpack-broker/1\0exec\0n\0"
         "1\0a\0"
         "1\0NOVALUE\0"s,
         "not NAME=VALUE"},
        {"envpack-broker/1\0exec\0n\0"
         "1\0a\0"
         "0\0extra\0"s,
         "trailing"},
        {"envpack-broker/1\0exec\0n\0"
         "x1\0a\0"
         "0\0"s,
         "no command"},
        {"envpack-broker/1\0exec\0n"s, "NUL"},
    };
    for (const auto& c : cases) {
        std::string why;
        INFO(c.why);
        CHECK_FALSE(decode_request(c.payload, &why));
        CHECK(why.find(c.why) != std::string::npos);
    }
}

TEST_CASE("shell quoting and transport command lines") {
    CHECK(shell_quote("orted") == "orted");
    CHECK(shell_quote("a b") == "'a b'");
    CHECK(shell_quote("") == "''");
    CHECK(shell_quote("it's") == "'it'\\''s'");
    CHECK(shell_quote("$HOME") == "'$HOME'");
    CHECK(agent_command({"orted", "-mca", "ess", "\"env\""}) ==
          std::vector<std::string>{"/bin/sh", "-c", "orted -mca ess \"env\""});

    std::vector<std::string> argv = {"printf", "[%s]", "a b", "it's", "$X", ";", "\"q\""};
    std::string expected = "[a b][it's][$X][;][\"q\"]";
    auto once = transport_command({"ip", "netns", "exec"}, "h1", argv, TransportQuoting::argv);
    CHECK(std::vector<std::string>(once.begin(), once.begin() + 4) ==
          std::vector<std::string>{"ip", "netns", "exec", "h1"});
    // An argv transport runs `sh -c CMD` as given: CMD parses back to argv.
    auto r = run_process(std::vector<std::string>(once.begin() + 4, once.end()));
    CHECK(r.out == expected);
    // ssh joins its arguments with spaces into one line the remote shell parses first.
    auto twice = transport_command({"ssh"}, "h1", argv, TransportQuoting::joined_line);
    std::string line;
    for (size_t i = 2; i < twice.size(); ++i) {
        line += (line.empty() ? "" : " ") + twice[i];
    }
    r = run_process({"/bin/sh", "-c", line});
    CHECK(r.out == expected);
}

namespace {

fs::path agent_binary() {
    return fs::path(ENVPACK_BINARY).parent_path() / "envpack-agent";
}

// A runtime whose `exec --process FILE ID` runs the JSON's args here, with its env and cwd.
fs::path fake_runtime(const fs::path& dir) {
    fs::path script = dir / "fake-runc";
    write_file_atomic(script,
                      "#!/usr/bin/python3\n"
                      "import json, os, sys\n"
                      "a = sys.argv[1:]\n"
                      "assert a[0] == 'exec' and a[1] == '--process', a\n"
                      "p = json.load(open(a[2]))\n"
                      "env = dict(e.split('=', 1) for e in p['env'])\n"
                      "env['CONTAINER'] = a[3]\n"
                      "os.chdir(p['cwd'])\n"
                      "os.execvpe(p['args'][0], p['args'], env)\n",
                      Durability::none);
    fs::permissions(script, fs::perms(0755));
    return script;
}

}  // namespace

TEST_CASE("the agent runs a command in a node container through the broker") {
    REQUIRE(fs::exists(agent_binary()));
    TempDir tmp("broker-test-");
    BrokerOptions o;
    o.dir = tmp.path() / "broker";
    o.work_dir = tmp.path() / "work";
    o.runtime.binary = fake_runtime(tmp.path());
    BrokerTarget t;
    t.node = "node1";
    t.container_id = "envpack-run-1";
    t.process.env = {{"PATH", "/usr/bin:/bin"}, {"NODE_VAR", "from-the-plan"}};
    t.process.cwd = tmp.path().string();
    o.targets.push_back(t);
    Broker broker(o);

    ProcessOptions po;
    po.env["ENVPACK_BROKER_SOCKET"] = broker.socket_path().string();
    po.stdin_data = "from stdin\n";
    // The words as mpirun passes them: joined and parsed once by the remote shell.
    auto r = run_process({agent_binary().string(), "node1", "echo", "\"$NODE_VAR\"", "$CONTAINER;",
                          "cat;", "echo", "to-stderr", ">&2;", "exit", "7"},
                         po);
    CHECK(r.exit_code == 7);
    CHECK(r.out == "from-the-plan envpack-run-1\nfrom stdin\n");
    CHECK(r.err == "to-stderr\n");

    r = run_process({agent_binary().string(), "node9", "true"}, po);
    CHECK(r.exit_code == 255);
    CHECK(r.err.find("`node9` is not a node of this run (nodes: node1)") != std::string::npos);
    CHECK(broker.requests() == 2);

    broker.stop();
    CHECK_FALSE(fs::exists(broker.socket_path()));
    r = run_process({agent_binary().string(), "node1", "true"}, po);
    CHECK(r.exit_code == 255);
    CHECK(r.err.find("connect to the envpack broker") != std::string::npos);
}

TEST_CASE("a command whose agent is killed is killed too") {
    REQUIRE(fs::exists(agent_binary()));
    TempDir tmp("broker-test-");
    BrokerOptions o;
    o.dir = tmp.path() / "broker";
    o.work_dir = tmp.path() / "work";
    o.runtime.binary = fake_runtime(tmp.path());
    BrokerTarget t;
    t.node = "n";
    t.container_id = "c";
    t.process.env = {{"PATH", "/usr/bin:/bin"}};
    t.process.cwd = "/";
    o.targets.push_back(t);
    Broker broker(o);
    fs::path marker = tmp.path() / "alive";
    ProcessOptions po;
    po.env["ENVPACK_BROKER_SOCKET"] = broker.socket_path().string();
    po.timeout = std::chrono::milliseconds(500);
    po.kill_grace = std::chrono::milliseconds(0);
    auto start = std::chrono::steady_clock::now();
    // The remote loop would run for 30 s; the agent is killed after 0.5 s.
    auto r = run_process({agent_binary().string(), "n", "for", "i", "in", "$(seq", "300);", "do",
                          "touch", marker.string() + ";", "sleep", "0.1;", "done"},
                         po);
    CHECK(r.timed_out);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    fs::remove(marker);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    CHECK_FALSE(fs::exists(marker));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}
