#include "launcher/node_spec.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "launcher/hosts_inputs.h"

namespace envpack {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json mount_to_json(const PlanMount& m) {
    return {
        {"destination", m.destination}, {"source", m.source},       {"type", m.type},
        {"options", m.options},         {"copy_from", m.copy_from}, {"make_source", m.make_source}};
}

PlanMount mount_from_json(const json& j) {
    PlanMount m;
    m.destination = j.at("destination").get<std::string>();
    m.source = j.at("source").get<std::string>();
    m.type = j.at("type").get<std::string>();
    m.options = j.at("options").get<std::vector<std::string>>();
    m.copy_from = j.at("copy_from").get<std::string>();
    m.make_source = j.at("make_source").get<bool>();
    return m;
}

// `path` relative to `base` when it lies under it.
std::optional<std::string> under(const fs::path& path, const fs::path& base) {
    fs::path rel = path.lexically_normal().lexically_relative(base.lexically_normal());
    if (rel.empty() || *rel.begin() == "..") {
        return std::nullopt;
    }
    return rel.string();
}

json target_to_json(const NodeBrokerTarget& t) {
    return {{"node", t.node},
            {"container_id", t.container_id},
            {"host",
             {{"name", t.host.name},
              {"address", t.host.address},
              {"home", t.host.home},
              {"program", t.host.program}}},
            {"process",
             {{"env", t.process.env},
              {"cwd", t.process.cwd},
              {"uid", t.process.uid},
              {"gid", t.process.gid}}}};
}

NodeBrokerTarget target_from_json(const json& j) {
    NodeBrokerTarget t;
    t.node = j.at("node").get<std::string>();
    t.container_id = j.at("container_id").get<std::string>();
    const json& h = j.at("host");
    t.host.name = h.at("name").get<std::string>();
    t.host.address = h.at("address").get<std::string>();
    t.host.home = h.at("home").get<std::string>();
    t.host.program = h.at("program").get<std::string>();
    const json& p = j.at("process");
    t.process.env = p.at("env").get<std::map<std::string, std::string>>();
    t.process.cwd = p.at("cwd").get<std::string>();
    t.process.uid = p.at("uid").get<unsigned>();
    t.process.gid = p.at("gid").get<unsigned>();
    return t;
}

std::string relative_source(std::string_view source) {
    return std::string(source.substr(k_run_relative.size()));
}

}  // namespace

json NodeSpec::to_json() const {
    json mounts = json::array();
    for (const auto& m : container.mounts) {
        mounts.push_back(mount_to_json(m));
    }
    json env = json::array();
    for (const auto& [k, v] : container.env) {
        env.push_back({k, v});
    }
    json targets = json::array();
    for (const auto& t : broker_targets) {
        targets.push_back(target_to_json(t));
    }
    json file_list = json::array();
    for (const auto& [path, content] : files) {
        file_list.push_back({{"path", path}, {"content", content}});
    }
    return {{"run_id", run_id},
            {"node", node},
            {"node_name", node_name},
            {"runtime", runtime},
            {"manifest", manifest.to_json()},
            {"container",
             {{"id", container.id},
              {"hostname", container.hostname},
              {"shm_bytes", container.shm_bytes},
              {"mounts", mounts},
              {"cwd", container.cwd},
              {"user", container.user},
              {"env", env},
              {"init_args", container.init_args}}},
            {"files", file_list},
            {"code_bytes", code_bytes},
            {"transport", transport},
            {"broker_targets", targets}};
}

NodeSpec NodeSpec::from_json(const json& j, std::string_view where) {
    try {
        NodeSpec s;
        s.run_id = j.at("run_id").get<std::string>();
        s.node = j.at("node").get<int>();
        s.node_name = j.at("node_name").get<std::string>();
        s.runtime = j.at("runtime").get<std::string>();
        s.manifest = Descriptor::from_json(j.at("manifest"), where);
        const json& c = j.at("container");
        s.container.node = s.node;
        s.container.id = c.at("id").get<std::string>();
        s.container.hostname = c.at("hostname").get<std::string>();
        s.container.shm_bytes = c.at("shm_bytes").get<std::uint64_t>();
        for (const auto& m : c.at("mounts")) {
            s.container.mounts.push_back(mount_from_json(m));
        }
        s.container.cwd = c.at("cwd").get<std::string>();
        s.container.user = c.at("user").get<std::string>();
        for (const auto& kv : c.at("env")) {
            s.container.env.emplace_back(kv.at(0).get<std::string>(), kv.at(1).get<std::string>());
        }
        s.container.init_args = c.at("init_args").get<std::vector<std::string>>();
        for (const auto& f : j.at("files")) {
            s.files.emplace_back(f.at("path").get<std::string>(),
                                 f.at("content").get<std::string>());
        }
        s.code_bytes = j.at("code_bytes").get<std::uint64_t>();
        s.transport = j.at("transport").get<std::vector<std::string>>();
        for (const auto& t : j.at("broker_targets")) {
            s.broker_targets.push_back(target_from_json(t));
        }
        return s;
    } catch (const json::exception& e) {
        throw Error(fmt::format("{}: not a node spec: {}", where, e.what()), "",
                    ExitCode::bad_input);
    }
}

NodeSpec make_node_spec(const RunPlan& plan, int node, const fs::path& record_dir,
                        const Descriptor& manifest, std::string runtime,
                        const std::map<std::string, Digest>& input_digests) {
    const PlanContainer& c = plan.containers.at(static_cast<size_t>(node));
    NodeSpec s;
    s.run_id = plan.run_id;
    s.node = node;
    s.node_name = plan.nodes.at(static_cast<size_t>(node)).name;
    s.runtime = std::move(runtime);
    s.manifest = manifest;
    s.container = c;
    s.container.bundle.clear();
    s.container.rootfs.clear();
    s.container.netns.clear();
    for (auto& m : s.container.mounts) {
        // An input's content is the host's cached copy, never the launching machine's path.
        std::string& local = m.copy_from.empty() ? m.source : m.copy_from;
        if (auto it = input_digests.find(local); it != input_digests.end()) {
            local = std::string(k_input_relative) + it->second.hex();
        }
        auto rel = under(m.source, record_dir);
        if (!rel) {
            continue;
        }
        m.source = std::string(k_run_relative) + *rel;
        bool is_file =
            m.destination == "/etc/hosts" || m.destination == container_paths::k_hostfile;
        if (is_file) {
            s.files.emplace_back(*rel, read_file(record_dir / *rel));
        } else if (m.destination == container_paths::k_python_hooks) {
            for (const auto& e : fs::directory_iterator(record_dir / *rel)) {
                s.files.emplace_back(fs::path(*rel) / e.path().filename(), read_file(e.path()));
            }
        }
    }
    return s;
}

PlanContainer localize(const NodeSpec& spec, const fs::path& node_dir, const fs::path& helpers_dir,
                       const fs::path& rootfs, const fs::path& inputs_dir) {
    PlanContainer c = spec.container;
    c.bundle = node_dir / "bundle";
    c.rootfs = rootfs;
    for (auto& m : c.mounts) {
        if (m.source.starts_with(k_run_relative)) {
            m.source = (node_dir / relative_source(m.source)).string();
        }
        for (std::string* s : {&m.source, &m.copy_from}) {
            if (s->starts_with(k_input_relative)) {
                auto digest = Digest::parse("sha256:" + s->substr(k_input_relative.size()));
                if (digest) {
                    *s = input_content_path(inputs_dir, *digest).string();
                }
            }
        }
        if (m.destination == container_paths::k_pause) {
            m.source = (helpers_dir / "envpack-pause").string();
        } else if (m.destination == container_paths::k_agent) {
            m.source = (helpers_dir / "envpack-agent").string();
        }
    }
    return c;
}

std::vector<std::string> returned_dirs(const NodeSpec& spec) {
    std::vector<std::string> all;
    for (const auto& m : spec.container.mounts) {
        if (m.make_source && m.source.starts_with(k_run_relative)) {
            all.push_back(relative_source(m.source));
        }
    }
    std::vector<std::string> out;
    for (const auto& d : all) {
        bool nested = false;
        for (const auto& other : all) {
            nested = nested || d.starts_with(other + "/");
        }
        if (!nested) {
            out.push_back(d);
        }
    }
    return out;
}

}  // namespace envpack
