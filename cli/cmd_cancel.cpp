// envpack cancel ID: stops a run. The run's supervisor (the `envpack run` process, detached or
// not) gets SIGTERM and stops the job as on any signal; the record says "cancelled". When the
// supervisor is already gone, its containers are deleted here and the record is closed.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/run_job.h"
#include "core/error.h"
#include "core/fs.h"
#include "launcher/run_record.h"
#include "launcher/runtime.h"

namespace envpack::cli {

int cmd_cancel(Context& ctx, const std::vector<std::string>& argv) {
    Args args("cancel", argv, {});
    RunRecord record = RunRecord::open(ctx.home, args.positional(0, "run ID"));
    args.expect_at_most(1);
    RunStatus status = record.read_status();
    if (status.phase == RunPhase::finished) {
        std::printf("%s already finished (exit code %d)\n", status.id.c_str(),
                    status.exit_code.value_or(-1));
        return 0;
    }
    write_file_atomic(record.cancel_marker(), "", Durability::none);
    if (supervisor_alive(status)) {
        ::kill(status.supervisor_pid, SIGTERM);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < deadline) {
            status = record.read_status();
            if (status.phase == RunPhase::finished || !supervisor_alive(status)) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (supervisor_alive(status) && status.phase != RunPhase::finished) {
            throw Error(fmt::format("run {} did not stop within 60 s", status.id),
                        fmt::format("its supervisor is process {}", status.supervisor_pid));
        }
    }
    status = record.read_status();
    if (status.phase != RunPhase::finished) {
        // The supervisor died without cleaning up: delete what the runtime still knows.
        Runtime runtime = select_runtime(
            status.runtime == "crun" ? RuntimeChoice::crun : RuntimeChoice::automatic,
            probe_host_facts());
        RuntimeDriver driver(runtime);
        for (const auto& id : status.containers) {
            if (driver.known(id)) {
                driver.destroy(id);
            }
        }
        status.phase = RunPhase::finished;
        status.finished_at = now_rfc3339();
        status.exit_code = 128 + SIGTERM;
        status.reason = "cancelled";
        status.message = "the supervisor was gone; containers deleted by envpack cancel";
        record.write_status(status);
    }
    std::printf("%s cancelled (exit code %d)\n", status.id.c_str(), status.exit_code.value_or(-1));
    return 0;
}

}  // namespace envpack::cli
