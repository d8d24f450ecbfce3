// Transport quoting (transport.h): the words a remote side receives are exactly the words given,
// for argv transports (`ip netns exec`, `srun`: CMD quoted once) and for ssh (its arguments are
// joined into one line the remote shell parses first: CMD quoted twice). Each case runs the real
// /bin/sh as the remote side would and compares the words it gets.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/process.h"
#include "launcher/transport.h"

using namespace envpack;

namespace {

// Words that break naive quoting.
const std::vector<std::string> k_nasty = {
    "plain",    "two words", "",         "it's",      "\"double\"",  "$HOME",
    "$(id -u)", "`id`",      "a\nb",     "tab\there", "back\\slash", "*",
    "~",        ";",         "&& false", "'",         "''",          "#comment",
    "x=y",      "-n",        "{a,b}",    "é ü 字",    "!event",      "\\'\\\"",
};

// Runs `sh -c CMD` as the remote side of an argv transport does, with a program that prints
// each word it receives NUL-terminated.
std::vector<std::string> words_from(const std::vector<std::string>& argv) {
    auto r = run_process(argv);
    REQUIRE(r.ok());
    std::vector<std::string> words;
    std::string cur;
    for (char c : r.out) {
        if (c == '\0') {
            words.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    return words;
}

std::vector<std::string> printer(const std::vector<std::string>& words) {
    std::vector<std::string> argv = {"printf", "%s\\0"};
    argv.insert(argv.end(), words.begin(), words.end());
    return argv;
}

}  // namespace

TEST_CASE("transport: the prefix decides the quoting") {
    CHECK(Transport::parse({}).quoting() == TransportQuoting::joined_line);
    CHECK(Transport::parse({}).prefix() == std::vector<std::string>{"ssh"});
    CHECK(Transport::parse({"ssh", "-i", "key"}).quoting() == TransportQuoting::joined_line);
    CHECK(Transport::parse({"/usr/bin/ssh"}).quoting() == TransportQuoting::joined_line);
    CHECK(Transport::parse({"ip", "netns", "exec"}).quoting() == TransportQuoting::argv);
    CHECK(Transport::parse({"srun", "--overlap", "-w"}).quoting() == TransportQuoting::argv);
    CHECK(Transport::parse({"sshpass"}).quoting() == TransportQuoting::argv);
    CHECK(Transport::parse({"ip", "netns", "exec"}).to_string() == "ip netns exec");
    CHECK(Transport::parse({"ip", "netns", "exec"}) == Transport::parse({"ip", "netns", "exec"}));
}

TEST_CASE("transport: argv transports get `PREFIX HOST sh -c CMD`, CMD quoted once") {
    Transport t = Transport::parse({"ip", "netns", "exec"});
    auto argv = t.command("host-1", printer(k_nasty));
    REQUIRE(argv.size() == 7);
    CHECK(std::vector<std::string>(argv.begin(), argv.begin() + 6) ==
          std::vector<std::string>{"ip", "netns", "exec", "host-1", "sh", "-c"});
    // The remote side runs `sh -c CMD` with CMD as one argument.
    CHECK(words_from({"/bin/sh", "-c", argv[6]}) == k_nasty);
}

TEST_CASE("transport: ssh gets CMD quoted twice; the joined line parses back to the words") {
    Transport t = Transport::parse({"ssh", "-o", "BatchMode=yes"});
    auto argv = t.command("h2", printer(k_nasty));
    REQUIRE(argv.size() == 7);
    CHECK(argv[3] == "h2");
    // ssh sends its words after HOST joined by spaces; the remote login shell parses that line.
    std::string line;
    for (size_t i = 4; i < argv.size(); ++i) {
        line += (line.empty() ? "" : " ") + argv[i];
    }
    CHECK(words_from({"/bin/sh", "-c", line}) == k_nasty);
    // Quoted only once, the same line would be split and expanded by the remote shell.
    auto once = transport_command({"ssh"}, "h2", printer(k_nasty), TransportQuoting::argv);
    std::string naive;
    for (size_t i = 2; i < once.size(); ++i) {
        naive += (naive.empty() ? "" : " ") + once[i];
    }
    auto r = run_process({"/bin/sh", "-c", naive});
    CHECK(r.out.find("two words") == std::string::npos);
}

TEST_CASE("transport: shell_join of no words and of plain words") {
    CHECK(shell_join({}).empty());
    CHECK(shell_join({"envpack", "node", "exec"}) == "envpack node exec");
    CHECK(shell_join({"ENVPACK_HOME=/h/a b"}) == "'ENVPACK_HOME=/h/a b'");
}
