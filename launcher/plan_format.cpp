// format_plan and plan_to_json: how `envpack run --dry-run` shows a plan.
#include <fmt/format.h>

#include "launcher/plan.h"

namespace envpack {
namespace {

std::string_view role_name(ProcessRole role) {
    switch (role) {
        case ProcessRole::main:
            return "main";
        case ProcessRole::node:
            return "node";
        case ProcessRole::mpirun:
            return "mpirun";
        case ProcessRole::rank:
            return "rank";
        case ProcessRole::worker:
            return "worker";
        case ProcessRole::ps:
            return "ps";
    }
    return "?";
}

std::string_view launch_name(Launch launch) {
    switch (launch) {
        case Launch::init:
            return "container process";
        case Launch::exec:
            return "exec";
        case Launch::by_mpirun:
            return "by mpirun";
    }
    return "?";
}

// Shell-style quoting for display: words with only safe characters as they are.
std::string shell_word(const std::string& w) {
    if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_-./:=,@%+") == std::string::npos) {
        return w;
    }
    std::string out = "'";
    for (char c : w) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

std::string argv_text(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        out += (out.empty() ? "" : " ") + shell_word(a);
    }
    return out;
}

std::string mount_text(const PlanMount& m) {
    std::string extra;
    if (!m.copy_from.empty()) {
        extra = fmt::format(" (copied from {})", m.copy_from);
    }
    return fmt::format("{} <- {} ({}){}", m.destination, m.source, fmt::join(m.options, ","),
                       extra);
}

std::string size_text(std::uint64_t bytes) {
    if (bytes != 0 && bytes % (1ull << 30) == 0) {
        return fmt::format("{}g", bytes >> 30);
    }
    if (bytes != 0 && bytes % (1ull << 20) == 0) {
        return fmt::format("{}m", bytes >> 20);
    }
    return fmt::format("{}", bytes);
}

nlohmann::json env_json(const EnvList& env) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [k, v] : env) {
        out.push_back(k + "=" + v);
    }
    return out;
}

}  // namespace

std::string format_plan(const RunPlan& plan) {
    std::string out;
    out += fmt::format("run {}\n", plan.run_id);
    out += fmt::format("image {} {}\n", plan.image, plan.image_digest);
    if (!plan.snapshot_digest.empty()) {
        out += fmt::format("code snapshot {}\n", plan.snapshot_digest);
    }
    out += fmt::format("distribution {}, {} node{}, {} process{}\n", to_string(plan.distribution),
                       plan.nodes.size(), plan.nodes.size() == 1 ? "" : "s", plan.processes.size(),
                       plan.processes.size() == 1 ? "" : "es");
    if (plan.timeout_seconds) {
        out += fmt::format("timeout {} s\n", *plan.timeout_seconds);
    }
    for (const auto& note : plan.notes) {
        out += fmt::format("note: {}\n", note);
    }
    for (const auto& c : plan.containers) {
        const PlanNode& node = plan.nodes[static_cast<size_t>(c.node)];
        out += fmt::format("\nnode {} {} address {} network {}\n", node.index, node.name,
                           node.address, node.netns.empty() ? "host" : node.netns);
        out += fmt::format("  container {}\n", c.id);
        out += fmt::format("    bundle {}\n", c.bundle.string());
        out += fmt::format("    hostname {}, cwd {}, user {}, /dev/shm {}\n", c.hostname, c.cwd,
                           c.user.empty() ? "root" : c.user, size_text(c.shm_bytes));
        out += fmt::format("    init {}\n",
                           c.init_is_job ? "the job's process" : argv_text(c.init_args));
        for (const auto& m : c.mounts) {
            out += fmt::format("    mount {}\n", mount_text(m));
        }
        for (const auto& p : plan.processes) {
            if (p.node != c.node) {
                continue;
            }
            out += fmt::format("  process {} ({}{})\n", p.label, launch_name(p.launch),
                               p.must_succeed ? "" : ", stopped when the others are done");
            out += fmt::format("    argv {}\n", argv_text(p.argv));
            out += fmt::format("    cwd {}\n", p.cwd);
            for (const auto& [k, v] : p.env) {
                out += fmt::format("    env {}={}\n", k, v);
            }
        }
    }
    if (!plan.hostfile.empty()) {
        out += "\nhostfile\n";
        for (size_t start = 0; start < plan.hostfile.size();) {
            size_t nl = plan.hostfile.find('\n', start);
            out += "  " + plan.hostfile.substr(start, nl - start) + "\n";
            start = nl == std::string::npos ? plan.hostfile.size() : nl + 1;
        }
    }
    return out;
}

nlohmann::json plan_to_json(const RunPlan& plan) {
    nlohmann::json j;
    j["run_id"] = plan.run_id;
    j["image"] = plan.image;
    j["image_digest"] = plan.image_digest;
    j["snapshot_digest"] = plan.snapshot_digest;
    j["distribution"] = to_string(plan.distribution);
    j["timeout_seconds"] = plan.timeout_seconds ? nlohmann::json(*plan.timeout_seconds) : nullptr;
    j["notes"] = plan.notes;
    j["hostfile"] = plan.hostfile;
    j["etc_hosts"] = plan.etc_hosts;
    j["nodes"] = nlohmann::json::array();
    for (const auto& n : plan.nodes) {
        j["nodes"].push_back(
            {{"index", n.index}, {"name", n.name}, {"address", n.address}, {"netns", n.netns}});
    }
    j["containers"] = nlohmann::json::array();
    for (const auto& c : plan.containers) {
        nlohmann::json mounts = nlohmann::json::array();
        for (const auto& m : c.mounts) {
            mounts.push_back({{"destination", m.destination},
                              {"source", m.source},
                              {"type", m.type},
                              {"options", m.options},
                              {"copy_from", m.copy_from},
                              {"make_source", m.make_source}});
        }
        j["containers"].push_back({{"node", c.node},
                                   {"id", c.id},
                                   {"hostname", c.hostname},
                                   {"bundle", c.bundle.string()},
                                   {"rootfs", c.rootfs.string()},
                                   {"netns", c.netns},
                                   {"shm_bytes", c.shm_bytes},
                                   {"cwd", c.cwd},
                                   {"user", c.user},
                                   {"env", env_json(c.env)},
                                   {"init_args", c.init_args},
                                   {"init_is_job", c.init_is_job},
                                   {"mounts", mounts}});
    }
    j["processes"] = nlohmann::json::array();
    for (const auto& p : plan.processes) {
        j["processes"].push_back({{"label", p.label},
                                  {"role", role_name(p.role)},
                                  {"node", p.node},
                                  {"index", p.index},
                                  {"argv", p.argv},
                                  {"env", env_json(p.env)},
                                  {"cwd", p.cwd},
                                  {"launch", launch_name(p.launch)},
                                  {"must_succeed", p.must_succeed}});
    }
    return j;
}

}  // namespace envpack
