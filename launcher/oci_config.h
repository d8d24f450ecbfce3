// The OCI runtime config (config.json) of one node container: a pure function of the container's
// plan (launcher/plan.h) and the user it runs as. Golden-file tested, and compared with `runc
// spec`'s defaults.
//
// What it holds: root (the per-run rootfs, writable), process (terminal off, the container's own
// args, env and cwd from the plan, uid/gid, capabilities, RLIMIT_NOFILE, noNewPrivileges),
// hostname (the node's name), mounts (runc's defaults for /proc, /dev, /dev/pts, /dev/mqueue and
// /sys, /dev/shm sized by resources.shm_size, then the plan's bind mounts in order),
// linux.namespaces (pid, ipc, uts, mount, and network: the node's namespace path, or none for the
// host's network), and runc's default maskedPaths / readonlyPaths.
//
// Differences from `runc spec`, on purpose:
// - no cgroup mount and no cgroup namespace: crun on these hybrid-cgroup hosts works only without
//   one (NOTES.md), and jobs do not need it;
// - capabilities: Docker's default set (runc spec has only AUDIT_WRITE, KILL, NET_BIND_SERVICE).
//   A job runs as root in its container but writes into record directories owned by the user who
//   ran envpack (SUDO_UID), which needs DAC_OVERRIDE/CHOWN/FOWNER, and images that drop
//   privileges need SETUID/SETGID — what users expect from `docker run`;
// - RLIMIT_NOFILE 1048576 (containerd's default; runc spec's 1024 is too few for MPI over TCP).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "launcher/plan.h"

namespace envpack {

struct OciUser {
    unsigned uid = 0;
    unsigned gid = 0;
    std::vector<unsigned> additional_gids;
    bool operator==(const OciUser&) const = default;
};

// An image config `User` written with numbers ("", "0", "1000", "1000:100") → uid/gid (gid 0
// when not given, as Docker). nullopt for names (resolving them needs the image's /etc/passwd).
std::optional<OciUser> parse_numeric_user(std::string_view user);

struct OciOptions {
    std::uint64_t nofile = 1048576;  // RLIMIT_NOFILE, soft and hard
};

// The capabilities every process of a node container gets (bounding, effective, permitted).
const std::vector<std::string>& default_capabilities();

// Keys in the order `runc spec` writes them, for people reading the file.
nlohmann::ordered_json make_oci_config(const PlanContainer& container, const OciUser& user,
                                       const OciOptions& options = {});

// config.json's bytes: make_oci_config indented by two spaces, with a final newline.
std::string render_oci_config(const PlanContainer& container, const OciUser& user,
                              const OciOptions& options = {});

}  // namespace envpack
