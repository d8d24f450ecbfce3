// JobSpec: the canonical YAML form and small value helpers (reading is job_spec.cpp).
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "launcher/job_spec.h"

namespace envpack {
namespace {

using yaml::Node;

Node str(std::string_view s) {
    return Node::string(std::string(s));
}

Node integer(std::int64_t v) {
    return Node::plain(std::to_string(v));
}

Node string_map(const std::vector<std::pair<std::string, std::string>>& kv) {
    Node m = Node::map();
    for (const auto& [k, v] : kv) {
        m.set(k, str(v));
    }
    return m;
}

Node string_list(const std::vector<std::string>& items) {
    Node l = Node::sequence();
    for (const auto& i : items) {
        l.push_back(str(i));
    }
    return l;
}

Node environment_node(const JobEnvironment& env) {
    switch (env.kind) {
        case JobEnvironment::Kind::image:
        case JobEnvironment::Kind::recipe:
            return str(env.image);
        case JobEnvironment::Kind::azureml:
            return str(env.version.empty() ? fmt::format("azureml:{}@latest", env.name)
                                           : fmt::format("azureml:{}:{}", env.name, env.version));
        case JobEnvironment::Kind::conda:
            break;
    }
    Node m = Node::map();
    m.set("image", str(env.image));
    m.set("conda_file", str(env.conda_file));
    return m;
}

Node input_node(const JobInput& in) {
    if (in.literal && in.type == "string") {
        return str(in.value);
    }
    if (in.literal) {
        Node typed = Node::map();
        typed.set("type", str(in.type));
        typed.set("value", Node::plain(in.value));
        return typed;
    }
    Node m = Node::map();
    m.set("type", str(in.type));
    m.set("path", in.paths.size() == 1 ? str(in.paths.front()) : string_list(in.paths));
    if (in.mode != InputMode::ro_mount) {
        m.set("mode", str(to_string(in.mode)));
    }
    if (!in.description.empty()) {
        m.set("description", str(in.description));
    }
    return m;
}

Node output_node(const JobOutput& out) {
    Node m = Node::map();
    if (out.type != "uri_folder") {
        m.set("type", str(out.type));
    }
    if (out.mode != OutputMode::rw_mount) {
        m.set("mode", str("upload"));
    }
    if (!out.path.empty()) {
        m.set("path", str(out.path));
    }
    if (!out.description.empty()) {
        m.set("description", str(out.description));
    }
    return m;
}

Node distribution_node(const JobDistribution& d) {
    Node m = Node::map();
    m.set("type", str(to_string(d.type)));
    if (d.type == DistributionType::tensorflow) {
        if (d.worker_count) {
            m.set("worker_count", integer(*d.worker_count));
        }
        if (d.parameter_server_count != 0) {
            m.set("parameter_server_count", integer(d.parameter_server_count));
        }
    } else {
        m.set("process_count_per_instance", integer(d.process_count_per_instance));
    }
    return m;
}

Node envpack_node(const EnvpackSettings& s) {
    const EnvpackSettings defaults;
    Node m = Node::map();
    if (!s.hosts.empty()) {
        Node hosts = Node::sequence();
        for (const auto& h : s.hosts) {
            Node host = Node::map();
            host.set("name", str(h.name));
            host.set("address", str(h.address));
            if (!h.home.empty()) {
                host.set("home", str(h.home));
            }
            if (!h.program.empty()) {
                host.set("program", str(h.program));
            }
            hosts.push_back(std::move(host));
        }
        m.set("hosts", std::move(hosts));
    }
    if (s.remote_exec != defaults.remote_exec) {
        m.set("remote_exec", string_list(s.remote_exec));
    }
    if (s.runtime != defaults.runtime) {
        m.set("runtime", str(s.runtime));
    }
    if (s.gpus != defaults.gpus) {
        m.set("gpus", s.gpus.kind == GpuRequestKind::count ? integer(s.gpus.count) : str("none"));
    }
    if (!s.backend.empty()) {
        m.set("backend", str(s.backend));
    }
    if (!s.registry.empty()) {
        m.set("registry", str(s.registry));
    }
    if (s.slurm) {
        Node slurm = Node::map();
        const std::pair<const char*, const std::string*> fields[] = {
            {"partition", &s.slurm->partition},
            {"account", &s.slurm->account},
            {"qos", &s.slurm->qos},
            {"time", &s.slurm->time}};
        for (const auto& [k, v] : fields) {
            if (!v->empty()) {
                slurm.set(k, str(*v));
            }
        }
        if (!s.slurm->sbatch_args.empty()) {
            slurm.set("sbatch_args", string_list(s.slurm->sbatch_args));
        }
        m.set("slurm", std::move(slurm));
    }
    if (s.kubernetes) {
        Node k = Node::map();
        if (!s.kubernetes->namespace_name.empty()) {
            k.set("namespace", str(s.kubernetes->namespace_name));
        }
        k.set("api", str(s.kubernetes->api));
        if (!s.kubernetes->image_pull_secrets.empty()) {
            k.set("image_pull_secrets", string_list(s.kubernetes->image_pull_secrets));
        }
        if (!s.kubernetes->node_selector.empty()) {
            k.set("node_selector", string_map(s.kubernetes->node_selector));
        }
        m.set("kubernetes", std::move(k));
    }
    if (s.gpu_sharing) {
        m.set("gpu_sharing", Node::plain("true"));
    }
    return m;
}

}  // namespace

std::string JobSpec::to_string() const {
    Node root = Node::map();
    if (!schema.empty()) {
        root.set("$schema", str(schema));
    }
    root.set("type", str("command"));
    const std::pair<const char*, const std::string*> texts[] = {
        {"name", &name},
        {"display_name", &display_name},
        {"experiment_name", &experiment_name},
        {"description", &description}};
    for (const auto& [k, v] : texts) {
        if (!v->empty()) {
            root.set(k, str(*v));
        }
    }
    if (!tags.empty()) {
        root.set("tags", string_map(tags));
    }
    if (!code.empty()) {
        root.set("code", str(code));
    }
    if (!command.empty()) {
        root.set("command", str(command));
    }
    root.set("environment", environment_node(environment));
    if (!environment_variables.empty()) {
        root.set("environment_variables", string_map(environment_variables));
    }
    if (!inputs.empty()) {
        Node m = Node::map();
        for (const auto& in : inputs) {
            m.set(in.name, input_node(in));
        }
        root.set("inputs", std::move(m));
    }
    if (!outputs.empty()) {
        Node m = Node::map();
        for (const auto& out : outputs) {
            m.set(out.name, output_node(out));
        }
        root.set("outputs", std::move(m));
    }
    if (distribution.type != DistributionType::none) {
        root.set("distribution", distribution_node(distribution));
    }
    Node res = Node::map();
    if (resources.instance_count) {
        res.set("instance_count", integer(*resources.instance_count));
    }
    if (resources.shm_size != JobResources::k_default_shm_size) {
        res.set("shm_size", str(resources.shm_size));
    }
    if (!res.items().empty()) {
        root.set("resources", std::move(res));
    }
    if (timeout_seconds) {
        Node limits = Node::map();
        limits.set("timeout", integer(*timeout_seconds));
        root.set("limits", std::move(limits));
    }
    Node ep = envpack_node(envpack);
    if (!ep.items().empty()) {
        root.set("envpack", std::move(ep));
    }
    return yaml::emit(root);
}

std::string_view to_string(InputMode mode) {
    switch (mode) {
        case InputMode::ro_mount:
            return "ro_mount";
        case InputMode::download:
            return "download";
        case InputMode::direct:
            return "direct";
    }
    return "?";
}

std::string_view to_string(DistributionType type) {
    switch (type) {
        case DistributionType::none:
            return "none";
        case DistributionType::mpi:
            return "mpi";
        case DistributionType::tensorflow:
            return "tensorflow";
        case DistributionType::pytorch:
            return "pytorch";
    }
    return "?";
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || p == text.data()) {
        return std::nullopt;
    }
    std::string unit;
    for (const char* c = p; c != text.data() + text.size(); ++c) {
        unit += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
    }
    if (unit.size() == 2 && unit[1] == 'b' && unit[0] != 'b') {
        unit.pop_back();
    }
    int shift = 0;
    if (unit.empty() || unit == "b") {
        shift = 0;
    } else if (unit == "k") {
        shift = 10;
    } else if (unit == "m") {
        shift = 20;
    } else if (unit == "g") {
        shift = 30;
    } else if (unit == "t") {
        shift = 40;
    } else {
        return std::nullopt;
    }
    if (shift > 0 && n > (UINT64_MAX >> shift)) {
        return std::nullopt;
    }
    return n << shift;
}

std::string JobEnvironment::azureml_image() const {
    std::string repo;
    for (char c : name) {
        repo += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return fmt::format("{}:{}", repo, version.empty() ? "latest" : version);
}

bool JobEnvironment::base_is_recipe() const {
    return image.ends_with(".yaml") || image.ends_with(".yml");
}

bool JobInput::is_dataset() const {
    return !literal && paths.size() == 1 &&
           (paths.front().starts_with("data:") || paths.front().starts_with("azureml:"));
}

bool JobInput::is_url() const {
    return !literal && !paths.empty() &&
           (paths.front().starts_with("http://") || paths.front().starts_with("https://"));
}

std::string EnvpackSettings::effective_backend() const {
    if (!backend.empty()) {
        return backend;
    }
    return hosts.empty() ? "local" : "hosts";
}

}  // namespace envpack
