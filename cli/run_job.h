// The real `envpack run` path (cmd_run.cpp parses options and calls it): the run record, the
// image unpacked (cached), the code snapshot, the plan, the local backend, the record finished.
// `--detach` forks a supervisor of its own session that keeps the run, and returns the run ID.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "cli/context.h"
#include "launcher/job_spec.h"

namespace envpack::cli {

enum class Detach { no, yes };

// The directory of the running envpack binary (envpack-pause and envpack-agent live beside it).
std::filesystem::path self_dir();

// The image reference the job's environment names; nullopt when the environment is built on
// demand (a recipe, or a base plus a conda file).
std::optional<std::string> image_reference(const JobSpec& job);

// Returns the exit code `envpack run` ends with (the job's, 124, 128+N, or 0 after --detach).
// Throws Error with 125 (or 126/127) for failures before the job starts.
int run_job(Context& ctx, const JobSpec& job, Detach detach);

}  // namespace envpack::cli

namespace envpack::cli {
// `envpack runs [--json]`, `envpack runs show ID` (cmd_runs.cpp), `envpack logs ID [--rank N]
// [-f]` (cmd_logs.cpp), `envpack cancel ID` (cmd_cancel.cpp).
int cmd_runs(Context&, const std::vector<std::string>&);
int cmd_logs(Context&, const std::vector<std::string>&);
int cmd_cancel(Context&, const std::vector<std::string>&);
}  // namespace envpack::cli
