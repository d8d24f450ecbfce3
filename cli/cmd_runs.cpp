// envpack runs [--json] | envpack runs show ID
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/run_job.h"
#include "core/error.h"
#include "core/fs.h"
#include "launcher/run_record.h"

namespace envpack::cli {
namespace {

// "running" while the supervisor lives; "lost" when it died without finishing the record.
std::string shown_phase(const RunStatus& s) {
    if (s.phase != RunPhase::finished && !supervisor_alive(s)) {
        return "lost";
    }
    return to_string(s.phase);
}

}  // namespace

int cmd_runs(Context& ctx, const std::vector<std::string>& argv) {
    Args args("runs", argv, {{"--json", "", false}});
    const auto& pos = args.positionals();
    if (!pos.empty()) {
        if (pos[0] != "show" || pos.size() != 2) {
            throw bad_input("usage: envpack runs [--json] | envpack runs show ID");
        }
        RunRecord record = RunRecord::open(ctx.home, pos[1]);
        std::string text = read_file(record.status_file());
        if (args.flag("--json")) {
            std::fwrite(text.data(), 1, text.size(), stdout);
            return 0;
        }
        RunStatus s = RunStatus::parse(text, record.status_file().string());
        std::printf("id:        %s\nrecord:    %s\nphase:     %s\n", s.id.c_str(),
                    record.dir().c_str(), shown_phase(s).c_str());
        if (!s.name.empty()) {
            std::printf("name:      %s\n", s.name.c_str());
        }
        std::printf("image:     %s %s\n", s.image.c_str(), s.image_digest.c_str());
        if (!s.snapshot_digest.empty()) {
            std::printf("snapshot:  %s\n", s.snapshot_digest.c_str());
        }
        std::printf("created:   %s\nstarted:   %s\nfinished:  %s\n", s.created_at.c_str(),
                    s.started_at.c_str(), s.finished_at.c_str());
        if (s.exit_code) {
            std::printf("exit code: %d (%s)\n", *s.exit_code, s.reason.c_str());
        }
        if (!s.message.empty()) {
            std::printf("message:   %s\n", s.message.c_str());
        }
        std::printf("runtime:   %s, rootfs %s\n", s.runtime.c_str(), s.rootfs.c_str());
        for (const auto& p : s.processes) {
            std::printf("log:       %s\n", record.log_file(p).c_str());
        }
        std::printf("outputs:   %s\n", record.outputs_dir().c_str());
        return 0;
    }
    auto runs = RunRecord::list(ctx.home);
    if (args.flag("--json")) {
        nlohmann::json all = nlohmann::json::array();
        for (const auto& s : runs) {
            auto j = nlohmann::json::parse(s.to_json());
            j["phase_shown"] = shown_phase(s);
            all.push_back(j);
        }
        std::printf("%s\n", all.dump(2).c_str());
        return 0;
    }
    std::printf("%-26s %-9s %-5s %-24s %s\n", "ID", "PHASE", "EXIT", "CREATED", "IMAGE");
    for (const auto& s : runs) {
        std::string code = s.exit_code ? std::to_string(*s.exit_code) : "-";
        std::printf("%-26s %-9s %-5s %-24s %s\n", s.id.c_str(), shown_phase(s).c_str(),
                    code.c_str(), s.created_at.c_str(), s.image.c_str());
    }
    return 0;
}

}  // namespace envpack::cli
