// A run's record, `$ENVPACK_HOME/runs/ID/`:
//   job.yaml        the job as resolved
//   status.json     RunStatus (phase, times, exit code, image and snapshot digests, supervisor)
//   logs/NAME.log   each process's whole output (NAME: rank-0, worker-1, ps-0, ...)
//   outputs/        ./outputs of the job; named outputs under outputs/NAME/
//   bundle/NODE/    the runtime bundle while the run lives (config.json is kept afterwards)
// Run IDs sort by creation time (UTC, milliseconds) and are unique (a random suffix, and the
// directory is created with mkdir, which fails on a clash). Files are owned by the user who ran
// envpack: SUDO_UID/SUDO_GID when set (`chown_to_invoker`).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace envpack {

enum class RunPhase { preparing, running, finished };

std::string to_string(RunPhase phase);
RunPhase parse_run_phase(std::string_view text);  // bad-input Error on anything else

// Everything `runs`, `runs show`, `logs` and `cancel` need to know about a run. Value type with a
// JSON round trip (status.json).
struct RunStatus {
    std::string id;
    std::string name;  // the job's display_name / name, may be empty
    RunPhase phase = RunPhase::preparing;
    std::string created_at;  // RFC 3339 UTC with milliseconds
    std::string started_at;  // empty until the job starts
    std::string finished_at;
    std::optional<int> exit_code;  // set when finished
    std::string reason;            // finished: succeeded, failed, timeout, cancelled, signal, error
    std::string message;
    std::string image;  // reference as written in the job
    std::string image_digest;
    std::string snapshot_digest;  // empty without `code`
    std::string runtime;          // runc | crun
    std::string rootfs;           // overlay | copy
    std::vector<std::string> containers;
    std::vector<std::string> processes;       // log names, in plan order
    int supervisor_pid = 0;                   // the envpack process that owns the run
    unsigned long long supervisor_start = 0;  // its start time (/proc/PID/stat), against PID reuse
    bool detached = false;
    // Output paths more than one node wrote: "outputs/REL: kept NODE's copy, also written by ..."
    // (the lowest node's copy wins).
    std::vector<std::string> output_conflicts;

    std::string to_json() const;
    // Throws a bad-input Error naming `origin` when the text is not a status.
    static RunStatus parse(std::string_view json, std::string_view origin);
};

// The current time as RFC 3339 UTC with milliseconds ("2026-12-01T07:21:27.123Z").
std::string now_rfc3339();

// A new run ID from `now_ms` (milliseconds since the epoch) and a random suffix:
// "20261201-072127.123-3f9a". Pure.
std::string make_run_id(long long now_ms, unsigned random_suffix);

// Who should own the record: SUDO_UID/SUDO_GID when both parse, else nothing (files stay the
// caller's). Pure over the two values.
struct Owner {
    uid_t uid = 0;
    gid_t gid = 0;
};
std::optional<Owner> owner_from(const char* sudo_uid, const char* sudo_gid);

class RunRecord {
  public:
    // Creates a new record with a fresh ID under `home/runs`.
    static RunRecord create(const std::filesystem::path& home);
    // Opens an existing record; an unknown ID (or unique prefix) is a bad-input Error that
    // says how to list runs.
    static RunRecord open(const std::filesystem::path& home, std::string_view id);
    // Every run with a readable status, oldest first.
    static std::vector<RunStatus> list(const std::filesystem::path& home);

    const std::string& id() const { return m_id; }
    const std::filesystem::path& dir() const { return m_dir; }
    std::filesystem::path job_file() const { return m_dir / "job.yaml"; }
    std::filesystem::path status_file() const { return m_dir / "status.json"; }
    std::filesystem::path logs_dir() const { return m_dir / "logs"; }
    std::filesystem::path log_file(std::string_view process) const;
    std::filesystem::path outputs_dir() const { return m_dir / "outputs"; }
    std::filesystem::path bundle_dir(std::string_view node) const;
    // Written by `envpack cancel` before it signals the supervisor, so the run says "cancelled".
    std::filesystem::path cancel_marker() const { return m_dir / "cancel-requested"; }

    RunStatus read_status() const;
    void write_status(const RunStatus& status) const;  // atomic
    // Hands the record's files to the invoking user (SUDO_UID/GID); a no-op without sudo.
    void chown_to_invoker() const;

  private:
    RunRecord(std::string id, std::filesystem::path dir)
        : m_id(std::move(id)), m_dir(std::move(dir)) {}
    std::string m_id;
    std::filesystem::path m_dir;
};

// Whether the supervisor recorded in `status` still runs (same PID, same start time).
bool supervisor_alive(const RunStatus& status);
// The start time of a process (field 22 of /proc/PID/stat), 0 if it is gone.
unsigned long long process_start_time(int pid);

}  // namespace envpack
