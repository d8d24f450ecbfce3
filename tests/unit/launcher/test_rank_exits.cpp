// Failed-rank records (rank_exits.h): the line format, reading and ordering, which code a failed
// job gets, the watcher; and the rank wrapper itself (`envpack-agent --rank`, rank_wrapper.c)
// run here: variables, exit codes and signals passed through, a record only for a failure of
// the rank's own.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "core/fs.h"
#include "core/process.h"
#include "launcher/rank_exits.h"

using namespace envpack;
namespace fs = std::filesystem;

TEST_CASE("rank exit records round-trip and refuse what the wrapper never writes") {
    RankExit e{3, RankEnd::exit, 3, 1700000000123456789};
    CHECK(e.file_name() == "rank.3.exit");
    CHECK(e.to_line() == "exit 3 1700000000123456789\n");
    CHECK(RankExit::parse(e.file_name(), e.to_line()) == e);
    RankExit s{12, RankEnd::signal, 11, 5};
    CHECK(RankExit::parse(s.file_name(), s.to_line()) == s);
    CHECK(s.exit_code() == 139);
    CHECK(e.exit_code() == 3);
    CHECK(e.describe() == "rank 3 exited with code 3");
    CHECK(s.describe() == "rank 12 was killed by signal 11");
    for (auto [name, line] : std::vector<std::pair<std::string, std::string>>{
             {"rank.3.exit", "exit 3"},
             {"rank.3.exit", "exit 3 12 extra\n"},
             {"rank.3.exit", "quit 3 12\n"},
             {"rank.3.exit", "exit -3 12\n"},
             {"rank.3.exit", "exit 300 12\n"},
             {"rank.3.exit", "exit 3 x\n"},
             {"rank.x.exit", "exit 3 12\n"},
             {"rank..exit", "exit 3 12\n"},
             {".rank.3.exit.77", "exit 3 12\n"},
             {"rank.3", "exit 3 12\n"},
         }) {
        INFO(name << ": " << line);
        CHECK_FALSE(RankExit::parse(name, line));
    }
}

TEST_CASE("the first rank to fail is the earliest record of any node") {
    TempDir tmp("rank-exits-");
    fs::path a = tmp.path() / "node0", b = tmp.path() / "node1";
    fs::create_directories(a);
    fs::create_directories(b);
    write_file_atomic(a / "rank.1.exit", "signal 15 300\n", Durability::none);
    write_file_atomic(b / "rank.3.exit", "exit 3 200\n", Durability::none);
    write_file_atomic(b / "rank.2.exit", "exit 1 200\n", Durability::none);
    write_file_atomic(b / ".rank.0.exit.42", "exit 9 1\n", Durability::none);  // half-written
    write_file_atomic(b / "notes.txt", "exit 9 1\n", Durability::none);
    auto all = read_rank_exits({a, b, tmp.path() / "missing"});
    REQUIRE(all.size() == 3);
    CHECK(all[0].rank == 2);  // same time: the lower rank first
    CHECK(all[1].rank == 3);
    CHECK(all[2].rank == 1);
    CHECK(first_rank_exit({a, b})->rank == 2);
    CHECK_FALSE(first_rank_exit({tmp.path() / "missing"}));

    // Only a failed job takes the rank's code; a reported record is the fallback.
    RankExit reported{7, RankEnd::exit, 4, 100};
    CHECK(failed_rank(JobEnd::failed, {a, b})->rank == 2);
    CHECK(failed_rank(JobEnd::failed, {tmp.path() / "missing"}, reported) == reported);
    CHECK_FALSE(failed_rank(JobEnd::failed, {tmp.path() / "missing"}));
    CHECK_FALSE(failed_rank(JobEnd::interrupted, {a, b}));
    CHECK_FALSE(failed_rank(JobEnd::timed_out, {a, b}));
    CHECK_FALSE(failed_rank(JobEnd::succeeded, {a, b}));
}

TEST_CASE("the watcher reports the first record once, soon after it appears") {
    TempDir tmp("rank-exits-");
    fs::path dir = tmp.path() / "exits";
    fs::create_directories(dir);
    std::atomic<int> calls{0};
    std::atomic<int> rank{-1};
    RankExitWatcher watcher(
        {dir},
        [&](const RankExit& r) {
            rank = r.rank;
            ++calls;
        },
        std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(calls == 0);
    write_file_atomic(dir / "rank.5.exit", "exit 2 10\n", Durability::none);
    for (int i = 0; i < 500 && calls == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    write_file_atomic(dir / "rank.6.exit", "exit 2 11\n", Durability::none);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    watcher.stop();
    CHECK(calls == 1);
    CHECK(rank == 5);
    REQUIRE(watcher.seen());
    CHECK(watcher.seen()->rank == 5);
}

namespace {

fs::path agent_binary() {
    return fs::path(ENVPACK_BINARY).parent_path() / "envpack-agent";
}

ProcessResult wrap(const fs::path& exits, const std::map<std::string, std::string>& env,
                   const std::string& script, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {agent_binary().string(), "--rank", "--exits", exits.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--", "/bin/sh", "-c", script});
    ProcessOptions po;
    po.env = env;
    po.timeout = std::chrono::seconds(20);
    return run_process(argv, po);
}

}  // namespace

TEST_CASE("the rank wrapper maps the MPI variables and records only its rank's own failures") {
    REQUIRE(fs::exists(agent_binary()));
    TempDir tmp("rank-wrapper-");
    fs::path exits = tmp.path() / "exits";
    const std::string show =
        "echo $RANK $WORLD_SIZE $LOCAL_RANK $LOCAL_WORLD_SIZE $NODE_RANK ${CUDA_VISIBLE_DEVICES:-}";

    // MPICH's Hydra variables; OpenMPI's win where both are set.
    auto r = wrap(
        exits,
        {{"PMI_RANK", "3"}, {"PMI_SIZE", "4"}, {"MPI_LOCALRANKID", "1"}, {"MPI_LOCALNRANKS", "2"}},
        show, {"--gpus", "2"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "3 4 1 2 1 1\n");
    r = wrap(exits,
             {{"OMPI_COMM_WORLD_RANK", "5"},
              {"OMPI_COMM_WORLD_SIZE", "6"},
              {"OMPI_COMM_WORLD_LOCAL_RANK", "2"},
              {"OMPI_COMM_WORLD_LOCAL_SIZE", "3"},
              {"PMI_RANK", "0"}},
             show);
    CHECK(r.out == "5 6 2 3 1\n");
    CHECK_FALSE(fs::exists(exits));  // nothing failed

    // A failure: the same code, and a record.
    r = wrap(exits, {{"PMI_RANK", "3"}}, "exit 3");
    CHECK(r.exit_code == 3);
    auto rec = first_rank_exit({exits});
    REQUIRE(rec);
    CHECK(rec->rank == 3);
    CHECK(rec->end == RankEnd::exit);
    CHECK(rec->value == 3);
    auto now = std::chrono::system_clock::now().time_since_epoch();
    CHECK(std::chrono::nanoseconds(rec->time_ns) <= now);
    CHECK(std::chrono::nanoseconds(rec->time_ns) > now - std::chrono::minutes(1));

    // A signal of its own: the wrapper dies of it too, and records it.
    r = wrap(exits, {{"PMI_RANK", "1"}}, "kill -SEGV $$");
    CHECK(r.signal == SIGSEGV);
    auto segv = RankExit::parse("rank.1.exit", read_file(exits / "rank.1.exit"));
    REQUIRE(segv);
    CHECK(segv->end == RankEnd::signal);
    CHECK(segv->value == SIGSEGV);

    // A command that is not there: 127, as a shell says.
    std::vector<std::string> argv = {agent_binary().string(), "--rank", "--", "/no/such/program"};
    CHECK(run_process(argv).exit_code == 127);
}

TEST_CASE("the rank wrapper forwards SIGTERM and records no failure for a stopped job") {
    REQUIRE(fs::exists(agent_binary()));
    TempDir tmp("rank-wrapper-");
    fs::path exits = tmp.path() / "exits";
    fs::path started = tmp.path() / "started";
    std::vector<std::string> argv = {agent_binary().string(),
                                     "--rank",
                                     "--exits",
                                     exits.string(),
                                     "--",
                                     "/bin/sh",
                                     "-c",
                                     "trap 'echo got TERM; kill $!; exit 5' TERM; touch " +
                                         started.string() + "; sleep 30 & wait"};
    ProcessResult r;
    std::thread t([&] {
        ProcessOptions po;
        po.env = {{"PMI_RANK", "2"}};
        po.timeout = std::chrono::seconds(20);
        r = run_process(argv, po);
    });
    for (int i = 0; i < 1000 && !fs::exists(started); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(fs::exists(started));
    // The wrapper is the only process whose command line names this directory's exits.
    auto pids = run_process({"pgrep", "-f", "--", "--exits " + exits.string()});
    REQUIRE(pids.exit_code == 0);
    for (size_t at = 0, nl; (nl = pids.out.find('\n', at)) != std::string::npos; at = nl + 1) {
        ::kill(std::stoi(pids.out.substr(at, nl - at)), SIGTERM);
    }
    t.join();
    CHECK(r.out == "got TERM\n");
    CHECK(r.exit_code == 5);
    CHECK_FALSE(first_rank_exit({exits}));
}
