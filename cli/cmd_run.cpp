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
#include "registry/reference.h"
#include "registry/store.h"

namespace envpack::cli {
namespace {

// YYYYMMDD-HHMMSS-xxxxxx: sorts by start time, unique enough for one host's runs.
std::string new_run_id() {
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::random_device rd;
    return fmt::format("{:04}{:02}{:02}-{:02}{:02}{:02}-{:06x}", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rd() & 0xffffff);
}

// The directory of the running envpack binary (helpers such as envpack-pause live beside it).
std::filesystem::path self_dir() {
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path(".") : exe.parent_path();
}

// The image reference the job's environment names, or "" when it is built on demand.
std::string image_reference(const JobSpec& job) {
    switch (job.environment.kind) {
        case JobEnvironment::Kind::image:
            return job.environment.image;
        case JobEnvironment::Kind::azureml:
            return job.environment.azureml_image();
        case JobEnvironment::Kind::recipe:
        case JobEnvironment::Kind::conda:
            break;
    }
    return "";
}

// Fills the image part of the context from the local store; a dry run shows what is missing
// instead of failing.
void find_image(Context& ctx, const JobSpec& job, PlanContext& pc) {
    std::string ref = image_reference(job);
    if (ref.empty()) {
        pc.image = job.environment.kind == JobEnvironment::Kind::conda
                       ? fmt::format("(built on demand from {} + {})", job.environment.image,
                                     job.environment.conda_file)
                       : fmt::format("(built on demand from recipe {})", job.environment.image);
        return;
    }
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
