// envpack run JOB.yaml [--set KEY=VALUE]... --dry-run [--json]
//
// Reads the job file (with overrides), gathers what the plan needs from the disk (the image's
// config from the local store, the code snapshot's digest, the run directory) and prints the
// plan. Every failure before the job starts exits 125, as `docker run` does.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/snapshot.h"
#include "cli/args.h"
#include "cli/context.h"
#include "cli/run_job.h"
#include "core/error.h"
#include "launcher/job_spec.h"
#include "launcher/plan.h"
#include "launcher/run_record.h"
#include "registry/reference.h"
#include "registry/store.h"

namespace envpack::cli {
namespace {

// The ID a real run would get now (launcher/run_record.h's scheme).
std::string new_run_id() {
    using namespace std::chrono;
    long long ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    return make_run_id(ms, std::random_device{}());
}

// Fills the image part of the context from the local store; a dry run shows what is missing
// instead of failing.
void find_image(Context& ctx, const JobSpec& job, PlanContext& pc) {
    std::optional<std::string> found = image_reference(job);
    if (!found) {
        pc.image = job.environment.kind == JobEnvironment::Kind::conda
                       ? fmt::format("(built on demand from {} + {})", job.environment.image,
                                     job.environment.conda_file)
                       : fmt::format("(built on demand from recipe {})", job.environment.image);
        return;
    }
    const std::string& ref = *found;
    auto parsed = ImageRef::try_parse(ref);
    if (!parsed) {
        throw job.error_at(job.environment.mark,
                           fmt::format("`{}` is not an image reference", ref));
    }
    pc.image = parsed->store_name();
    Store store(ctx.store_dir());
    auto desc = std::filesystem::exists(ctx.store_dir() / "index.json") ? store.resolve(pc.image)
                                                                        : std::nullopt;
    if (!desc) {
        pc.image_digest = "(not in the local store)";
        return;
    }
    pc.image_digest = desc->digest.to_string();
    pc.image_config = store.read_config(store.read_manifest(*desc));
}

}  // namespace

int cmd_run(Context& ctx, const std::vector<std::string>& argv) {
    try {
        Args args("run", argv,
                  {{"--set", "", true},
                   {"--dry-run", "", false},
                   {"--json", "", false},
                   {"--detach", "-d", false}});
        const std::string& file = args.positional(0, "JOB.yaml");
        args.expect_at_most(1);
        JobSpec job = JobSpec::load(file, args.values("--set"));
        job.base_dir = std::filesystem::absolute(job.base_dir).lexically_normal();
        if (!args.flag("--dry-run")) {
            return run_job(ctx, job, args.flag("--detach") ? Detach::yes : Detach::no);
        }

        PlanContext pc;
        pc.run_id = new_run_id();
        pc.run_dir = ctx.home / "runs" / pc.run_id;
        find_image(ctx, job, pc);
        if (!job.code.empty()) {
            std::filesystem::path code = job.base_dir / job.code;
            Snapshot snapshot = make_snapshot(code, ctx.log, SnapshotOptions{});
            pc.snapshot_digest = snapshot.digest.to_string();
            pc.code_dir = pc.run_dir / "code";
        }
        pc.pause_path = self_dir() / "envpack-pause";
        pc.agent_path = self_dir() / "envpack-agent";
        if (::geteuid() != 0) {
            pc.node_network = NodeNetwork::host;
        }
        RunPlan plan = make_plan(job, pc);
        std::string out =
            args.flag("--json") ? plan_to_json(plan).dump(2) + "\n" : format_plan(plan);
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
    } catch (const Error& e) {
        // envpack's own failures before the job starts: 125, as `docker run`.
        // 126/127 (the command cannot run in the image) are kept.
        if (e.code() == ExitCode::command_not_found || e.code() == ExitCode::command_not_runnable) {
            throw;
        }
        throw e.with_exit_code(ExitCode::run_failed);
    }
}

}  // namespace envpack::cli
