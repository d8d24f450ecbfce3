#include <catch2/catch.hpp>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "launcher/rootfs.h"
#include "launcher/runtime.h"

using namespace envpack;

namespace {

HostFacts facts(bool runc, bool crun, bool hybrid) {
    HostFacts f;
    if (runc) {
        f.runc = "/usr/sbin/runc";
    }
    if (crun) {
        f.crun = "/usr/bin/crun";
    }
    f.hybrid_cgroups = hybrid;
    f.root = true;
    return f;
}

}  // namespace

TEST_CASE("runtime choice parses and prints") {
    for (auto text : {"auto", "runc", "crun"}) {
        CHECK(to_string(parse_runtime_choice(text)) == text);
    }
    try {
        parse_runtime_choice("docker");
        FAIL("accepted docker");
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::bad_input);
        CHECK(std::string(e.what()).find("docker") != std::string::npos);
    }
}

TEST_CASE("select_runtime: auto prefers crun, crun gets the hybrid-cgroup workaround") {
    struct Case {
        RuntimeChoice choice;
        bool runc, crun, hybrid;
        RuntimeKind kind;
        CgroupWorkaround workaround;
        std::vector<std::string> global_args;
    };
    // clang-format off
    const Case cases[] = {
        {RuntimeChoice::automatic, true,  true,  true,  RuntimeKind::crun, CgroupWorkaround::hybrid, {"--cgroup-manager=disabled"}},
        {RuntimeChoice::automatic, true,  false, true,  RuntimeKind::runc, CgroupWorkaround::none,   {}},
        {RuntimeChoice::automatic, false, true,  true,  RuntimeKind::crun, CgroupWorkaround::hybrid, {"--cgroup-manager=disabled"}},
        {RuntimeChoice::automatic, false, true,  false, RuntimeKind::crun, CgroupWorkaround::none,   {}},
        {RuntimeChoice::crun,      true,  true,  true,  RuntimeKind::crun, CgroupWorkaround::hybrid, {"--cgroup-manager=disabled"}},
        {RuntimeChoice::runc,      true,  false, true,  RuntimeKind::runc, CgroupWorkaround::none,   {}},
    };
    // clang-format on
    for (const auto& c : cases) {
        auto r = select_runtime(c.choice, facts(c.runc, c.crun, c.hybrid));
        CHECK(r.kind == c.kind);
        CHECK(r.workaround == c.workaround);
        CHECK(r.global_args == c.global_args);
        CHECK(r.drop_cgroup_mount() == (c.workaround == CgroupWorkaround::hybrid));
    }
}

TEST_CASE("select_runtime: a missing runtime is envpack's own failure (125) naming it") {
    auto expect_125 = [](RuntimeChoice choice, const HostFacts& f, std::string_view name) {
        try {
            select_runtime(choice, f);
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(e.code() == ExitCode::run_failed);
            CHECK(std::string(e.what()).find(name) != std::string::npos);
        }
    };
    expect_125(RuntimeChoice::runc, facts(false, true, true), "runc");
    expect_125(RuntimeChoice::crun, facts(true, false, true), "crun");
    expect_125(RuntimeChoice::automatic, facts(false, false, true), "runc and crun");
}

TEST_CASE("runtime_choice_from: ENVPACK_RUNTIME overrides the job") {
    ::unsetenv("ENVPACK_RUNTIME");
    CHECK(runtime_choice_from(std::nullopt) == RuntimeChoice::automatic);
    CHECK(runtime_choice_from("crun") == RuntimeChoice::crun);
    ::setenv("ENVPACK_RUNTIME", "runc", 1);
    CHECK(runtime_choice_from("crun") == RuntimeChoice::runc);
    ::unsetenv("ENVPACK_RUNTIME");
}

TEST_CASE("RuntimeCommands: command lines carry the global options before the verb") {
    Runtime crun{RuntimeKind::crun,
                 "/usr/bin/crun",
                 {"--cgroup-manager=disabled"},
                 CgroupWorkaround::hybrid};
    RuntimeCommands c(crun);
    using V = std::vector<std::string>;
    CHECK(c.run("envpack-1-node0", "/b") == V{"/usr/bin/crun", "--cgroup-manager=disabled", "run",
                                              "--bundle", "/b", "envpack-1-node0"});
    CHECK(c.create("x", "/b", "/b/init.pid") == V{"/usr/bin/crun", "--cgroup-manager=disabled",
                                                  "create", "--bundle", "/b", "--pid-file",
                                                  "/b/init.pid", "x"});
    CHECK(c.exec("x", "/b/p.json") ==
          V{"/usr/bin/crun", "--cgroup-manager=disabled", "exec", "--process", "/b/p.json", "x"});
    CHECK(c.kill("x", 9) == V{"/usr/bin/crun", "--cgroup-manager=disabled", "kill", "x", "9"});
    CHECK(c.remove("x") ==
          V{"/usr/bin/crun", "--cgroup-manager=disabled", "delete", "--force", "x"});
    RuntimeCommands r(Runtime{RuntimeKind::runc, "runc", {}, CgroupWorkaround::none});
    CHECK(r.start("x") == V{"runc", "start", "x"});
    CHECK(r.state("x") == V{"runc", "state", "x"});
}

TEST_CASE("render_exec_process: args, env as K=V, cwd, user, no terminal") {
    ExecProcess p;
    p.args = {"python3", "train.py", "--lr", "0.1"};
    p.env = {{"RANK", "1"}, {"PATH", "/usr/bin:/bin"}};
    p.cwd = "/code";
    p.uid = 1000;
    p.gid = 100;
    auto j = nlohmann::json::parse(render_exec_process(p));
    CHECK(j["args"] == nlohmann::json(p.args));
    CHECK(j["env"] == nlohmann::json({"PATH=/usr/bin:/bin", "RANK=1"}));
    CHECK(j["cwd"] == "/code");
    CHECK(j["user"]["uid"] == 1000);
    CHECK(j["user"]["gid"] == 100);
    CHECK(j["terminal"] == false);
}

TEST_CASE("overlay_mount_data escapes the characters overlayfs splits on") {
    CHECK(overlay_mount_data("/l", "/u", "/w") == "lowerdir=/l,upperdir=/u,workdir=/w");
    CHECK(overlay_mount_data("/a:b,c\\d", "/u", "/w") ==
          "lowerdir=/a\\:b\\,c\\\\d,upperdir=/u,workdir=/w");
}

TEST_CASE("rootfs mode parses and prints") {
    for (auto text : {"auto", "overlay", "copy"}) {
        CHECK(to_string(parse_rootfs_mode(text)) == text);
    }
    CHECK_THROWS_AS(parse_rootfs_mode("tmpfs"), Error);
}
