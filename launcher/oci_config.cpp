#include "launcher/oci_config.h"

#include <charconv>

#include <fmt/format.h>

namespace envpack {
namespace {

using Json = nlohmann::ordered_json;

std::optional<unsigned> number(std::string_view s) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
        return std::nullopt;
    }
    return v;
}

Json mount(std::string_view destination, std::string_view type, std::string_view source,
           std::vector<std::string> options) {
    Json m;
    m["destination"] = destination;
    m["type"] = type;
    m["source"] = source;
    m["options"] = options;
    return m;
}

// runc spec's defaults, with /dev/shm sized for the job and no cgroup mount.
Json default_mounts(std::uint64_t shm_bytes) {
    Json out = Json::array();
    out.push_back(mount("/proc", "proc", "proc", {}));
    out.back().erase("options");
    out.push_back(
        mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
    out.push_back(
        mount("/dev/pts", "devpts", "devpts",
              {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
    out.push_back(
        mount("/dev/shm", "tmpfs", "shm",
              {"nosuid", "noexec", "nodev", "mode=1777", fmt::format("size={}", shm_bytes)}));
    out.push_back(mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
    out.push_back(mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
    return out;
}

}  // namespace

std::optional<OciUser> parse_numeric_user(std::string_view user) {
    if (user.empty()) {
        return OciUser{};
    }
    auto colon = user.find(':');
    auto uid = number(user.substr(0, colon));
    if (!uid) {
        return std::nullopt;
    }
    OciUser out;
    out.uid = *uid;
    if (colon != std::string_view::npos) {
        auto gid = number(user.substr(colon + 1));
        if (!gid) {
            return std::nullopt;
        }
        out.gid = *gid;
    }
    return out;
}

const std::vector<std::string>& default_capabilities() {
    static const std::vector<std::string> k_caps = {
        "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
        "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL",    "CAP_AUDIT_WRITE"};
    return k_caps;
}

nlohmann::ordered_json make_oci_config(const PlanContainer& c, const OciUser& user,
                                       const OciOptions& options) {
    Json process;
    process["terminal"] = false;
    Json u;
    u["uid"] = user.uid;
    u["gid"] = user.gid;
    if (!user.additional_gids.empty()) {
        u["additionalGids"] = user.additional_gids;
    }
    process["user"] = u;
    process["args"] = c.init_args;
    Json env = Json::array();
    for (const auto& [k, v] : c.env) {
        env.push_back(k + "=" + v);
    }
    process["env"] = env;
    process["cwd"] = c.cwd.empty() ? "/" : c.cwd;
    Json caps;
    for (const char* set : {"bounding", "effective", "permitted"}) {
        caps[set] = default_capabilities();
    }
    process["capabilities"] = caps;
    Json nofile;
    nofile["type"] = "RLIMIT_NOFILE";
    nofile["hard"] = options.nofile;
    nofile["soft"] = options.nofile;
    process["rlimits"] = Json::array({nofile});
    process["noNewPrivileges"] = true;

    Json mounts = default_mounts(c.shm_bytes);
    for (const auto& m : c.mounts) {
        mounts.push_back(mount(m.destination, m.type, m.source, m.options));
    }

    Json namespaces = Json::array();
    for (const char* type : {"pid", "ipc", "uts", "mount"}) {
        namespaces.push_back({{"type", type}});
    }
    if (!c.netns.empty()) {
        namespaces.push_back({{"type", "network"}, {"path", c.netns}});
    }

    Json linux;
    linux["namespaces"] = namespaces;
    linux["maskedPaths"] = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                            "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats", "/proc/sched_debug",   "/sys/firmware",
                            "/proc/scsi"};
    linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"};

    Json config;
    config["ociVersion"] = "1.0.2";
    config["process"] = process;
    config["root"] = {{"path", c.rootfs.string()}, {"readonly", false}};
    config["hostname"] = c.hostname;
    config["mounts"] = mounts;
    config["linux"] = linux;
    return config;
}

std::string render_oci_config(const PlanContainer& c, const OciUser& user,
                              const OciOptions& options) {
    return make_oci_config(c, user, options).dump(2) + "\n";
}

}  // namespace envpack
