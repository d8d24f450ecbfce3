#include "launcher/run_record.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace envpack {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

std::string to_string(RunPhase phase) {
    switch (phase) {
        case RunPhase::preparing:
            return "preparing";
        case RunPhase::running:
            return "running";
        case RunPhase::finished:
            return "finished";
    }
    return "preparing";
}

RunPhase parse_run_phase(std::string_view text) {
    if (text == "preparing") {
        return RunPhase::preparing;
    }
    if (text == "running") {
        return RunPhase::running;
    }
    if (text == "finished") {
        return RunPhase::finished;
    }
    throw bad_input(fmt::format("unknown run phase `{}`", text));
}

std::string RunStatus::to_json() const {
    json j = {
        {"id", id},
        {"name", name},
        {"phase", to_string(phase)},
        {"created_at", created_at},
        {"started_at", started_at},
        {"finished_at", finished_at},
        {"exit_code", exit_code ? json(*exit_code) : json(nullptr)},
        {"reason", reason},
        {"message", message},
        {"image", {{"reference", image}, {"digest", image_digest}}},
        {"snapshot", {{"digest", snapshot_digest}}},
        {"runtime", runtime},
        {"rootfs", rootfs},
        {"containers", containers},
        {"processes", processes},
        {"supervisor", {{"pid", supervisor_pid}, {"start", supervisor_start}}},
        {"detached", detached},
    };
    if (!output_conflicts.empty()) {
        j["output_conflicts"] = output_conflicts;
    }
    return j.dump(2) + "\n";
}

RunStatus RunStatus::parse(std::string_view text, std::string_view origin) {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("id") || !j.contains("phase")) {
        throw bad_input(fmt::format("{}: not a run status (status.json)", origin));
    }
    try {
        RunStatus s;
        s.id = j.at("id").get<std::string>();
        s.name = j.value("name", "");
        s.phase = parse_run_phase(j.at("phase").get<std::string>());
        s.created_at = j.value("created_at", "");
        s.started_at = j.value("started_at", "");
        s.finished_at = j.value("finished_at", "");
        if (j.contains("exit_code") && j["exit_code"].is_number_integer()) {
            s.exit_code = j["exit_code"].get<int>();
        }
        s.reason = j.value("reason", "");
        s.message = j.value("message", "");
        if (j.contains("image")) {
            s.image = j["image"].value("reference", "");
            s.image_digest = j["image"].value("digest", "");
        }
        if (j.contains("snapshot")) {
            s.snapshot_digest = j["snapshot"].value("digest", "");
        }
        s.runtime = j.value("runtime", "");
        s.rootfs = j.value("rootfs", "");
        s.containers = j.value("containers", std::vector<std::string>{});
        s.processes = j.value("processes", std::vector<std::string>{});
        if (j.contains("supervisor")) {
            s.supervisor_pid = j["supervisor"].value("pid", 0);
            s.supervisor_start = j["supervisor"].value("start", 0ULL);
        }
        s.detached = j.value("detached", false);
        s.output_conflicts = j.value("output_conflicts", std::vector<std::string>{});
        return s;
    } catch (const json::exception& e) {
        throw bad_input(fmt::format("{}: malformed run status: {}", origin, e.what()));
    } catch (const Error& e) {
        throw e.with_context(origin);
    }
}

std::string now_rfc3339() {
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

std::string make_run_id(long long now_ms, unsigned random_suffix) {
    std::time_t secs = static_cast<std::time_t>(now_ms / 1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    return fmt::format("{:04}{:02}{:02}-{:02}{:02}{:02}.{:03}-{:04x}", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now_ms % 1000,
                       random_suffix & 0xffffu);
}

std::optional<Owner> owner_from(const char* sudo_uid, const char* sudo_gid) {
    auto parse = [](const char* s) -> std::optional<unsigned> {
        if (s == nullptr || *s == '\0') {
            return std::nullopt;
        }
        unsigned v = 0;
        std::string_view t(s);
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || p != t.data() + t.size()) {
            return std::nullopt;
        }
        return v;
    };
    auto u = parse(sudo_uid);
    auto g = parse(sudo_gid);
    if (!u || !g) {
        return std::nullopt;
    }
    return Owner{static_cast<uid_t>(*u), static_cast<gid_t>(*g)};
}

RunRecord RunRecord::create(const fs::path& home) {
    fs::path runs = home / "runs";
    make_dirs(runs);
    std::random_device rd;
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
        std::string id = make_run_id(ms, rd());
        fs::path dir = runs / id;
        if (::mkdir(dir.c_str(), 0755) == 0) {
            RunRecord record(id, dir);
            make_dirs(record.logs_dir());
            make_dirs(record.outputs_dir());
            return record;
        }
        if (errno != EEXIST) {
            throw_errno("create the run record", dir.string(), errno);
        }
    }
    throw Error(fmt::format("could not make a unique run ID under {}", runs.string()));
}

RunRecord RunRecord::open(const fs::path& home, std::string_view id) {
    fs::path runs = home / "runs";
    if (!id.empty() && id.find('/') == std::string_view::npos && id != "." && id != "..") {
        if (fs::is_regular_file(runs / id / "status.json")) {
            return RunRecord(std::string(id), runs / id);
        }
        // A unique prefix, as git and docker accept.
        std::vector<std::string> matches;
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(runs, ec)) {
            auto name = e.path().filename().string();
            if (name.starts_with(id) && fs::is_regular_file(e.path() / "status.json")) {
                matches.push_back(name);
            }
        }
        if (matches.size() == 1) {
            return RunRecord(matches[0], runs / matches[0]);
        }
        if (matches.size() > 1) {
            throw bad_input(
                fmt::format("run ID `{}` is ambiguous ({} runs start with it)", id, matches.size()),
                "give more of the ID; `envpack runs` lists them");
        }
    }
    throw bad_input(fmt::format("no run `{}` in {}", id, runs.string()),
                    "`envpack runs` lists the runs");
}

std::vector<RunStatus> RunRecord::list(const fs::path& home) {
    std::vector<RunStatus> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(home / "runs", ec)) {
        auto status = e.path() / "status.json";
        try {
            out.push_back(RunStatus::parse(read_file(status), status.string()));
        } catch (const Error&) {
            // A record being created, or damaged: `runs show` reports it, the listing skips it.
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

fs::path RunRecord::log_file(std::string_view process) const {
    return logs_dir() / (std::string(process) + ".log");
}

fs::path RunRecord::bundle_dir(std::string_view node) const {
    return m_dir / "bundle" / std::string(node);
}

RunStatus RunRecord::read_status() const {
    return RunStatus::parse(read_file(status_file()), status_file().string());
}

void RunRecord::write_status(const RunStatus& status) const {
    write_file_atomic(status_file(), status.to_json(), Durability::none);
    if (auto owner = owner_from(std::getenv("SUDO_UID"), std::getenv("SUDO_GID"))) {
        (void)::lchown(status_file().c_str(), owner->uid, owner->gid);
    }
}

void RunRecord::chown_to_invoker() const {
    auto owner = owner_from(std::getenv("SUDO_UID"), std::getenv("SUDO_GID"));
    if (!owner) {
        return;
    }
    (void)::lchown(m_dir.c_str(), owner->uid, owner->gid);
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(m_dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        // The bundle's rootfs belongs to the container, not to the user.
        if (it->path().filename() == "bundle" && it.depth() == 0) {
            it.disable_recursion_pending();
            continue;
        }
        (void)::lchown(it->path().c_str(), owner->uid, owner->gid);
    }
}

unsigned long long process_start_time(int pid) {
    if (pid <= 0) {
        return 0;
    }
    std::string stat;
    try {
        stat = read_file(fmt::format("/proc/{}/stat", pid));
    } catch (const Error&) {
        return 0;
    }
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    auto close = stat.rfind(')');
    if (close == std::string::npos) {
        return 0;
    }
    size_t pos = close + 2;  // field 3
    for (int field = 3; field < 22; ++field) {
        pos = stat.find(' ', pos);
        if (pos == std::string::npos) {
            return 0;
        }
        ++pos;
    }
    return std::strtoull(stat.c_str() + pos, nullptr, 10);
}

bool supervisor_alive(const RunStatus& status) {
    if (status.supervisor_pid <= 0) {
        return false;
    }
    auto start = process_start_time(status.supervisor_pid);
    return start != 0 && start == status.supervisor_start;
}

}  // namespace envpack
