// JobSpec: reading a job file (the writing side is job_spec_write.cpp).
#include "launcher/job_spec.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>

namespace envpack {
namespace {

using yaml::Value;

constexpr std::string_view k_hint =
    "a job file takes the keys of an Azure ML command job (type, name, display_name, "
    "experiment_name, description, tags, code, command, environment, environment_variables, "
    "inputs, outputs, distribution, resources, limits, compute) and `envpack:`";

std::string note(const Value& v, std::string_view what) {
    return fmt::format("{}:{}: `{}` is ignored: {}", v.doc().source_name(v.key_mark().source),
                       v.key_mark().pos.line, v.path(), what);
}

std::vector<std::string> string_list(const Value& v) {
    std::vector<std::string> out;
    for (const auto& item : v.items()) {
        out.push_back(item.str());
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> string_map(const Value& v) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& e : v.entries()) {
        out.emplace_back(e.key(), e.is_null() ? std::string() : e.str());
    }
    return out;
}

bool ends_with_yaml(std::string_view s) {
    return s.ends_with(".yaml") || s.ends_with(".yml");
}

class JobReader {
  public:
    explicit JobReader(const yaml::Document& doc) : m_doc(doc) {}

    JobSpec run() {
        Value root(m_doc, m_doc.root(), "", std::string(k_hint));
        if (root.is_null()) {
            root.fail("the job file is empty: it needs at least `command` and `environment`");
        }
        if (!root.is_map()) {
            root.fail("a job file must be a mapping of keys (command, environment, ...)");
        }
        root.expect_keys({"$schema",
                          "type",
                          "name",
                          "display_name",
                          "experiment_name",
                          "description",
                          "tags",
                          "code",
                          "command",
                          "environment",
                          "environment_variables",
                          "inputs",
                          "outputs",
                          "distribution",
                          "resources",
                          "limits",
                          "compute",
                          "identity",
                          "services",
                          "queue_settings",
                          "properties",
                          "envpack"},
                         "the job file");
        JobSpec spec;
        for (const auto& v : root.entries()) {
            const std::string& key = v.key();
            if (key == "$schema") {
                spec.schema = v.str();
            } else if (key == "type") {
                v.one_of({"command"});
            } else if (key == "name") {
                spec.name = v.str();
            } else if (key == "display_name") {
                spec.display_name = v.str();
            } else if (key == "experiment_name") {
                spec.experiment_name = v.str();
            } else if (key == "description") {
                spec.description = v.str();
            } else if (key == "tags") {
                spec.tags = string_map(v);
            } else if (key == "code") {
                spec.code = v.str();
            } else if (key == "command") {
                spec.command = v.str();
                spec.command_mark = v.mark();
            } else if (key == "environment") {
                spec.environment = read_environment(v, spec);
            } else if (key == "environment_variables") {
                spec.environment_variables = string_map(v);
            } else if (key == "inputs") {
                for (const auto& e : v.entries()) {
                    spec.inputs.push_back(read_input(e));
                }
            } else if (key == "outputs") {
                for (const auto& e : v.entries()) {
                    spec.outputs.push_back(read_output(e));
                }
            } else if (key == "distribution") {
                spec.distribution = read_distribution(v);
            } else if (key == "resources") {
                read_resources(v, spec);
            } else if (key == "limits") {
                v.expect_keys({"timeout"}, "`limits`");
                if (auto t = v.get("timeout")) {
                    spec.timeout_seconds = t->integer(1);
                }
            } else if (key == "compute") {
                v.str();
                spec.notes.push_back(note(v, "envpack runs on this machine or on envpack.hosts"));
            } else if (key == "identity" || key == "services" || key == "queue_settings" ||
                       key == "properties") {
                spec.notes.push_back(note(v, "it configures Azure ML's service"));
            } else if (key == "envpack") {
                spec.envpack = read_envpack(v);
            }
        }
        if (!root.get("environment")) {
            root.fail(
                "the job file has no `environment` (an image reference, azureml:NAME:VERSION, "
                "or {image, conda_file})");
        }
        if (spec.resources.shm_bytes == 0) {
            spec.resources.shm_size = std::string(JobResources::k_default_shm_size);
            spec.resources.shm_bytes = *parse_size(spec.resources.shm_size);
        }
        check_nodes(spec);
        return spec;
    }

  private:
    JobEnvironment read_environment(const Value& v, JobSpec& spec) {
        JobEnvironment env;
        env.mark = v.mark();
        if (v.is_scalar()) {
            std::string s = v.str();
            if (s.starts_with("azureml:")) {
                read_azureml(v, s.substr(8), env);
            } else {
                env.kind =
                    ends_with_yaml(s) ? JobEnvironment::Kind::recipe : JobEnvironment::Kind::image;
                env.image = s;
            }
            if (env.image.empty() && env.kind != JobEnvironment::Kind::azureml) {
                v.fail("`environment` is empty");
            }
            return env;
        }
        if (!v.is_map()) {
            v.fail(
                fmt::format("`environment` must be an image reference or a mapping "
                            "{{image, conda_file}}"));
        }
        v.expect_keys({"$schema", "image", "conda_file", "build", "name", "version", "description",
                       "tags", "os_type", "inference_config"},
                      "`environment`");
        for (const auto& e : v.entries()) {
            const std::string& key = e.key();
            if (key == "image") {
                env.image = e.str();
            } else if (key == "conda_file") {
                env.conda_file = e.str();
            } else if (key == "build") {
                e.fail_at_key(
                    "`environment.build` (a Docker build context) is not supported: "
                    "give `image` (an image or a base recipe) and `conda_file`");
            } else if (key == "os_type") {
                e.one_of({"linux", "Linux"});
            } else {
                spec.notes.push_back(note(e, "it describes an Azure ML environment asset"));
            }
        }
        if (env.image.empty()) {
            v.fail("`environment` needs `image` (an image reference or a base recipe .yaml)");
        }
        if (env.image.starts_with("azureml:")) {
            v.get("image")->fail("`environment.image` must be an image reference or a recipe");
        }
        if (!env.conda_file.empty()) {
            env.kind = JobEnvironment::Kind::conda;
        } else {
            env.kind = ends_with_yaml(env.image) ? JobEnvironment::Kind::recipe
                                                 : JobEnvironment::Kind::image;
        }
        return env;
    }

    static void read_azureml(const Value& v, std::string_view rest, JobEnvironment& env) {
        env.kind = JobEnvironment::Kind::azureml;
        if (auto at = rest.find('@'); at != std::string_view::npos) {
            if (rest.substr(at + 1) != "latest") {
                v.fail("an azureml environment is `azureml:NAME:VERSION` or `azureml:NAME@latest`");
            }
            env.name = std::string(rest.substr(0, at));
        } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
            env.name = std::string(rest.substr(0, colon));
            env.version = std::string(rest.substr(colon + 1));
        } else {
            env.name = std::string(rest);
        }
        if (env.name.empty() || env.name.find(':') != std::string::npos ||
            (rest.find('@') == std::string_view::npos && env.version.empty())) {
            v.fail("an azureml environment is `azureml:NAME:VERSION` or `azureml:NAME@latest`");
        }
    }

    static JobInput read_input(const Value& v) {
        JobInput in;
        in.name = v.key();
        in.mark = v.mark();
        if (v.is_null()) {
            v.fail(fmt::format("input `{}` has no value", in.name));
        }
        if (v.is_scalar()) {
            std::string s = v.str();
            if (s.starts_with("azureml:") || s.starts_with("data:")) {
                in.paths = {s};
            } else {
                in.literal = true;
                in.type = "string";
                in.value = s;
            }
            return in;
        }
        v.expect_keys(
            {"type", "path", "mode", "description", "optional", "default", "value", "datastore"},
            fmt::format("input `{}`", in.name));
        if (auto t = v.get("type")) {
            in.type =
                t->one_of({"uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model",
                           "triton_model", "integer", "number", "string", "boolean"});
        }
        if (in.type == "integer" || in.type == "number" || in.type == "string" ||
            in.type == "boolean") {
            auto value = v.get("value") ? v.get("value") : v.get("default");
            if (!value) {
                v.fail(fmt::format("literal input `{}` needs `value`", in.name));
            }
            if (in.type == "integer") {
                value->integer();
            } else if (in.type == "number") {
                value->number();
            } else if (in.type == "boolean") {
                value->boolean();
            }
            in.literal = true;
            in.value = value->str();
            return in;
        }
        if (auto p = v.get("path")) {
            in.paths = p->is_sequence() ? string_list(*p) : std::vector<std::string>{p->str()};
            if (in.paths.empty()) {
                p->fail(fmt::format("input `{}` has an empty `path`", in.name));
            }
        } else {
            v.fail(fmt::format(
                "input `{}` needs a `path` (a local path, URLs, or data:NAME:VERSION)", in.name));
        }
        if (auto m = v.get("mode")) {
            std::string mode = m->one_of({"ro_mount", "download", "direct"});
            in.mode = mode == "download" ? InputMode::download
                      : mode == "direct" ? InputMode::direct
                                         : InputMode::ro_mount;
        }
        if (auto d = v.get("description")) {
            in.description = d->str();
        }
        return in;
    }

    static JobOutput read_output(const Value& v) {
        JobOutput out;
        out.name = v.key();
        out.mark = v.mark();
        v.expect_keys({"type", "mode", "path", "name", "version", "description"},
                      fmt::format("output `{}`", out.name));
        if (auto t = v.get("type")) {
            out.type = t->one_of({"uri_folder", "uri_file", "mlflow_model", "custom_model",
                                  "mltable", "triton_model"});
        }
        if (auto m = v.get("mode")) {
            out.mode = m->one_of({"rw_mount", "upload"}) == "upload" ? OutputMode::upload
                                                                     : OutputMode::rw_mount;
        }
        if (auto p = v.get("path")) {
            out.path = p->str();
        }
        if (auto d = v.get("description")) {
            out.description = d->str();
        }
        return out;
    }

    static JobDistribution read_distribution(const Value& v) {
        JobDistribution d;
        d.mark = v.mark();
        if (!v.is_map()) {
            v.fail("`distribution` must be a mapping with `type: mpi | tensorflow | pytorch`");
        }
        auto type = v.get("type");
        if (!type) {
            v.fail("`distribution` needs `type: mpi | tensorflow | pytorch`");
        }
        std::string t = type->one_of({"mpi", "tensorflow", "pytorch", "ray"});
        if (t == "ray") {
            type->fail("`distribution.type: ray` is not supported by envpack");
        }
        if (t == "mpi") {
            d.type = DistributionType::mpi;
            v.expect_keys({"type", "process_count_per_instance"}, "an mpi `distribution`");
            auto n = v.get("process_count_per_instance");
            if (!n) {
                v.fail("an mpi `distribution` needs `process_count_per_instance`");
            }
            d.process_count_per_instance = static_cast<int>(n->integer(1, 4096));
        } else if (t == "pytorch") {
            d.type = DistributionType::pytorch;
            v.expect_keys({"type", "process_count_per_instance"}, "a pytorch `distribution`");
            if (auto n = v.get("process_count_per_instance")) {
                d.process_count_per_instance = static_cast<int>(n->integer(1, 4096));
            }
        } else {
            d.type = DistributionType::tensorflow;
            v.expect_keys({"type", "worker_count", "parameter_server_count"},
                          "a tensorflow `distribution`");
            if (auto n = v.get("worker_count")) {
                d.worker_count = static_cast<int>(n->integer(1, 4096));
            }
            if (auto n = v.get("parameter_server_count")) {
                d.parameter_server_count = static_cast<int>(n->integer(0, 4096));
            }
        }
        return d;
    }

    static void read_resources(const Value& v, JobSpec& spec) {
        v.expect_keys({"instance_count", "instance_type", "shm_size", "docker_args", "properties",
                       "locations", "max_instance_count"},
                      "`resources`");
        for (const auto& e : v.entries()) {
            if (e.key() == "instance_count") {
                spec.resources.instance_count = static_cast<int>(e.integer(1, 1024));
                spec.resources.instance_count_mark = e.mark();
            } else if (e.key() == "shm_size") {
                std::string s = e.str();
                auto bytes = parse_size(s);
                if (!bytes || *bytes == 0) {
                    e.fail(
                        fmt::format("`resources.shm_size` must be a size such as 2g or 512m, "
                                    "got `{}`",
                                    s));
                }
                spec.resources.shm_size = s;
                spec.resources.shm_bytes = *bytes;
            } else if (e.key() == "instance_type") {
                e.str();
                spec.notes.push_back(note(e, "envpack uses the nodes it is given"));
            } else {
                spec.notes.push_back(note(e, "it configures Azure ML's compute"));
            }
        }
    }

    static EnvpackSettings read_envpack(const Value& v) {
        EnvpackSettings s;
        v.expect_keys({"hosts", "remote_exec", "runtime", "gpus", "backend", "registry", "slurm",
                       "kubernetes", "gpu_sharing"},
                      "`envpack`");
        for (const auto& e : v.entries()) {
            const std::string& key = e.key();
            if (key == "hosts") {
                s.hosts_mark = e.mark();
                read_hosts(e, s);
            } else if (key == "remote_exec") {
                s.remote_exec = e.is_sequence() ? string_list(e) : split_words(e.str());
                if (s.remote_exec.empty()) {
                    e.fail("`envpack.remote_exec` is empty (default: ssh)");
                }
            } else if (key == "runtime") {
                s.runtime = e.one_of({"auto", "crun", "runc"});
            } else if (key == "gpus") {
                if (e.is_scalar() && e.node().style() == yaml::Style::plain && !e.str().empty() &&
                    std::isdigit(static_cast<unsigned char>(e.str()[0]))) {
                    int n = static_cast<int>(e.integer(0, 1024));
                    s.gpus = n == 0 ? GpuRequest{GpuRequestKind::none, 0}
                                    : GpuRequest{GpuRequestKind::count, n};
                } else {
                    s.gpus.kind = e.one_of({"all", "none"}) == "all" ? GpuRequestKind::all
                                                                     : GpuRequestKind::none;
                }
            } else if (key == "backend") {
                s.backend = e.one_of({"local", "hosts", "slurm", "kubernetes"});
            } else if (key == "registry") {
                s.registry = e.str();
            } else if (key == "slurm") {
                SlurmSettings slurm;
                e.expect_keys({"partition", "account", "qos", "time", "sbatch_args"},
                              "`envpack.slurm`");
                for (const auto& f : e.entries()) {
                    if (f.key() == "sbatch_args") {
                        slurm.sbatch_args = string_list(f);
                    } else {
                        std::string value = f.str();
                        (f.key() == "partition" ? slurm.partition
                         : f.key() == "account" ? slurm.account
                         : f.key() == "qos"     ? slurm.qos
                                                : slurm.time) = value;
                    }
                }
                s.slurm = slurm;
            } else if (key == "kubernetes") {
                KubernetesSettings k;
                e.expect_keys({"namespace", "api", "image_pull_secrets", "node_selector"},
                              "`envpack.kubernetes`");
                if (auto f = e.get("namespace")) {
                    k.namespace_name = f->str();
                }
                if (auto f = e.get("api")) {
                    k.api = f->one_of({"kubeflow", "jobset"});
                }
                if (auto f = e.get("image_pull_secrets")) {
                    k.image_pull_secrets = string_list(*f);
                }
                if (auto f = e.get("node_selector")) {
                    k.node_selector = string_map(*f);
                }
                s.kubernetes = k;
            } else if (key == "gpu_sharing") {
                s.gpu_sharing = e.boolean();
            }
        }
        return s;
    }

    static void read_hosts(const Value& v, EnvpackSettings& s) {
        std::set<std::string> names;
        for (const auto& h : v.items()) {
            JobHost host;
            host.mark = h.mark();
            if (h.is_scalar()) {
                host.name = h.str();
            } else {
                h.expect_keys({"name", "address", "home", "program"}, "a host of `envpack.hosts`");
                auto name = h.get("name");
                if (!name) {
                    h.fail("a host needs `name` (how the transport reaches it)");
                }
                host.name = name->str();
                auto address = h.get("address");
                if (!address || address->str().empty()) {
                    h.fail(
                        fmt::format("host `{}` needs `address` (how the nodes reach each other "
                                    "for MPI, TF_CONFIG and MASTER_ADDR)",
                                    host.name));
                }
                host.address = address->str();
                if (auto home = h.get("home")) {
                    host.home = home->str();
                }
                if (auto program = h.get("program")) {
                    host.program = program->str();
                }
            }
            if (host.name.empty()) {
                h.fail("a host's `name` is empty");
            }
            if (host.address.empty()) {
                host.address = host.name;
            }
            if (!names.insert(host.name).second) {
                h.fail(fmt::format("host `{}` is listed twice", host.name));
            }
            s.hosts.push_back(std::move(host));
        }
    }

    static std::vector<std::string> split_words(std::string_view s) {
        std::vector<std::string> out;
        std::string cur;
        for (char c : s) {
            if (c == ' ' || c == '\t') {
                if (!cur.empty()) {
                    out.push_back(std::move(cur));
                    cur.clear();
                }
            } else {
                cur += c;
            }
        }
        if (!cur.empty()) {
            out.push_back(std::move(cur));
        }
        return out;
    }

    void check_nodes(const JobSpec& spec) const {
        const auto& hosts = spec.envpack.hosts;
        if (!hosts.empty() && spec.resources.instance_count &&
            static_cast<size_t>(*spec.resources.instance_count) > hosts.size()) {
            throw m_doc.error_at(
                spec.resources.instance_count_mark,
                fmt::format("`resources.instance_count` is {} but `envpack.hosts` lists {}",
                            *spec.resources.instance_count, hosts.size()),
                "list a host per node, or lower instance_count");
        }
    }

    const yaml::Document& m_doc;
};

void check_references(const JobSpec& spec) {
    for (const auto& ref : command_references(spec)) {
        bool known = ref.kind == CommandReference::Kind::input
                         ? spec.find_input(ref.name) != nullptr
                         : spec.find_output(ref.name) != nullptr;
        if (!known) {
            const char* what = ref.kind == CommandReference::Kind::input ? "input" : "output";
            throw spec.error_at(
                spec.command_mark,
                fmt::format("the command uses {} `{}`, which `{}s` does not declare", what,
                            ref.name, what),
                fmt::format("declare it under `{}s:` or fix the name", what));
        }
    }
}

}  // namespace

JobSpec JobSpec::parse(const yaml::Document& doc) {
    JobSpec spec = JobReader(doc).run();
    spec.document = std::make_shared<const yaml::Document>(doc);
    std::filesystem::path dir = std::filesystem::path(doc.file()).parent_path();
    spec.base_dir = dir.empty() ? std::filesystem::path(".") : dir;
    check_references(spec);
    return spec;
}

JobSpec JobSpec::parse(std::string_view text, const std::filesystem::path& file) {
    return parse(yaml::Document::parse(text, file.string()));
}

JobSpec JobSpec::load(const std::filesystem::path& path,
                      const std::vector<std::string>& overrides) {
    yaml::Document doc = yaml::Document::load(path);
    for (const auto& o : overrides) {
        doc.apply_override(o);
    }
    return parse(doc);
}

const JobInput* JobSpec::find_input(std::string_view n) const {
    auto it =
        std::find_if(inputs.begin(), inputs.end(), [&](const auto& i) { return i.name == n; });
    return it == inputs.end() ? nullptr : &*it;
}

const JobOutput* JobSpec::find_output(std::string_view n) const {
    auto it =
        std::find_if(outputs.begin(), outputs.end(), [&](const auto& o) { return o.name == n; });
    return it == outputs.end() ? nullptr : &*it;
}

Error JobSpec::error_at(const yaml::Mark& mark, std::string_view message, std::string hint) const {
    if (document) {
        return document->error_at(mark, message, std::move(hint));
    }
    return bad_input(std::string(message), std::move(hint));
}

std::vector<CommandReference> command_references(const JobSpec& spec) {
    std::vector<CommandReference> out;
    const std::string& c = spec.command;
    for (size_t pos = c.find("${{"); pos != std::string::npos; pos = c.find("${{", pos + 3)) {
        size_t close = c.find("}}", pos + 3);
        if (close == std::string::npos) {
            throw spec.error_at(spec.command_mark, "the command has `${{` without its `}}`");
        }
        std::string expr = c.substr(pos + 3, close - pos - 3);
        auto trim = [](std::string s) {
            s.erase(0, s.find_first_not_of(" \t"));
            s.erase(s.find_last_not_of(" \t") + 1);
            return s;
        };
        expr = trim(expr);
        CommandReference ref;
        if (expr.starts_with("inputs.")) {
            ref.kind = CommandReference::Kind::input;
            ref.name = expr.substr(7);
        } else if (expr.starts_with("outputs.")) {
            ref.kind = CommandReference::Kind::output;
            ref.name = expr.substr(8);
        } else {
            throw spec.error_at(spec.command_mark,
                                fmt::format("the command uses `${{{{{}}}}}`: only "
                                            "${{{{inputs.NAME}}}} and ${{{{outputs.NAME}}}} are "
                                            "known",
                                            expr));
        }
        ref.begin = pos;
        ref.end = close + 2;
        out.push_back(std::move(ref));
    }
    return out;
}

}  // namespace envpack
