// envpack node ...: the internal subcommands the launcher runs on each of `envpack.hosts` through
// the job's transport (launcher/hosts_node.h says what each does). Not meant to be typed.
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/context.h"
#include "cli/run_job.h"
#include "core/error.h"
#include "launcher/hosts_inputs.h"
#include "launcher/hosts_node.h"
#include "registry/store.h"

namespace envpack::cli {

namespace {

std::string required(const Args& args, const std::string& name) {
    auto v = args.value(name);
    if (!v || v->empty()) {
        throw bad_input(fmt::format("envpack node: {} is required", name));
    }
    return *v;
}

}  // namespace

int cmd_node(Context& ctx, const std::vector<std::string>& argv) {
    if (argv.empty()) {
        throw bad_input(
            "envpack node: which? blobs-have, blobs-receive, inputs-have, inputs-receive, run, "
            "exec",
            "these are run by `envpack run` on envpack.hosts, not by hand");
    }
    const std::string& sub = argv.front();
    std::vector<std::string> rest(argv.begin() + 1, argv.end());
    if (sub == "blobs-have") {
        Store store(ctx.store_dir());
        for (const auto& d : blobs_present(store, rest)) {
            std::printf("%s\n", d.c_str());
        }
        return 0;
    }
    if (sub == "blobs-receive") {
        Args args("node blobs-receive", rest, {{"--tag", "", true}, {"--manifest", "", true}});
        args.expect_at_most(0);
        Store store(ctx.store_dir());
        int n = receive_blob_stream(STDIN_FILENO, store);
        if (auto tag = args.value("--tag")) {
            // The received image gets a name, so that this host's `envpack gc` keeps it.
            auto j = nlohmann::json::parse(required(args, "--manifest"), nullptr, false);
            store.tag(*tag, Descriptor::from_json(j, "--manifest"));
        }
        std::printf("received %d\n", n);
        return 0;
    }
    if (sub == "inputs-have") {
        for (const auto& d : inputs_present(input_cache_dir(ctx.home), rest)) {
            std::printf("%s\n", d.c_str());
        }
        return 0;
    }
    if (sub == "inputs-receive") {
        Args args("node inputs-receive", rest, {});
        args.expect_at_most(0);
        int n = receive_input_stream(STDIN_FILENO, input_cache_dir(ctx.home));
        std::printf("received %d\n", n);
        return 0;
    }
    if (sub == "run") {
        Args args("node run", rest, {{"--run", "", true}, {"--node", "", true}});
        args.expect_at_most(0);
        return node_run(ctx.home, self_dir(), required(args, "--run"), required(args, "--node"),
                        ctx.log, STDIN_FILENO, STDOUT_FILENO);
    }
    if (sub == "exec") {
        Args args("node exec", rest,
                  {{"--run", "", true},
                   {"--node", "", true},
                   {"--container", "", true},
                   {"--runtime", "", true},
                   {"--process", "", true}});
        args.expect_at_most(0);
        node_exec(ctx.home, required(args, "--run"), required(args, "--node"),
                  required(args, "--container"), args.value("--runtime").value_or("auto"),
                  required(args, "--process"));
    }
    throw bad_input(fmt::format("envpack node: unknown subcommand `{}`", sub),
                    "blobs-have, blobs-receive, inputs-have, inputs-receive, run or exec");
}

}  // namespace envpack::cli
