// A job file: the keys of an Azure ML CLI v2 command job (`$schema`, type, name, display_name,
// experiment_name, description, tags, code, command, environment, environment_variables, inputs,
// outputs, distribution, resources, limits, compute, identity, services, queue_settings,
// properties) plus envpack's own `envpack:` section (DESIGN.md "Job file").
//
// `JobSpec::parse` is pure (a yaml::Document, overrides already applied, in; a value out). An
// unknown key, a wrong type or value, or a `${{inputs.X}}` / `${{outputs.X}}` in the command that
// names nothing declared throws a bad-input Error (exit code 2; `envpack run` maps it to 125)
// whose message is `file:line:column: what` with the line and a caret. Keys Azure accepts that
// mean nothing here (`compute`, `resources.instance_type`, `identity`, `services`, ...) are kept
// out of the value and reported in `notes`.
//
// `to_string` writes the canonical YAML form; `parse(to_string(x)) == x` (round trip, tested).
// Positions (`Mark`s) and the document's text stay with the value so that checks made later
// (the plan, the runtime) can still point at the line: `error_at`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/yaml.h"

namespace envpack {

// `environment:` — one of: an image reference (`demo/env:1`), Azure's `azureml:NAME:VERSION` /
// `azureml:NAME@latest` (that image in the local store), a base-image recipe (a path ending in
// .yaml/.yml, built with `envpack base build`), or a mapping {image, conda_file} (an image or a
// recipe as the base, plus a conda file built on demand).
struct JobEnvironment {
    enum class Kind { image, azureml, recipe, conda };
    Kind kind = Kind::image;
    std::string image;       // image reference, or the recipe path (relative to the job file)
    std::string conda_file;  // Kind::conda only (relative to the job file)
    std::string name;        // Kind::azureml: NAME
    std::string version;     // Kind::azureml: VERSION, or "" for @latest
    yaml::Mark mark;

    // The local image an `azureml:` environment means: NAME lowercased (OCI repositories are
    // lowercase), tagged VERSION, or `latest` for @latest.
    std::string azureml_image() const;
    bool base_is_recipe() const;  // image ends in .yaml/.yml
    bool operator==(const JobEnvironment& o) const {
        return kind == o.kind && image == o.image && conda_file == o.conda_file && name == o.name &&
               version == o.version;
    }
};

enum class InputMode { ro_mount, download, direct };
std::string_view to_string(InputMode mode);

// `inputs.NAME:` — a literal (`epochs: 1`, substituted as written) or data: a local path
// (relative to the job file), URLs, or a registered dataset (`data:NAME:VERSION`,
// `data:NAME@latest`, `azureml:NAME:VERSION`). A scalar starting with `azureml:` or `data:` is
// data too, as in Azure's examples (`cifar: azureml:cifar-10-example:1`).
struct JobInput {
    std::string name;
    bool literal = false;
    std::string value;  // literal: the text as written
    // data: uri_folder | uri_file | mltable | mlflow_model | ...; literal: string (a plain
    // scalar) | integer | number | boolean (the {type, value} form)
    std::string type = "uri_folder";
    std::vector<std::string> paths;  // data: one path or URL, or several URLs
    InputMode mode = InputMode::ro_mount;
    std::string description;
    yaml::Mark mark;

    bool is_dataset() const;  // data: / azureml: reference
    bool is_url() const;      // http(s):// paths
    bool operator==(const JobInput& o) const {
        return name == o.name && literal == o.literal && value == o.value && type == o.type &&
               paths == o.paths && mode == o.mode && description == o.description;
    }
};

enum class OutputMode { rw_mount, upload };

// `outputs.NAME:` — a folder collected into the run record under outputs/NAME/.
struct JobOutput {
    std::string name;
    std::string type = "uri_folder";
    OutputMode mode = OutputMode::rw_mount;
    std::string path;  // as written; envpack keeps outputs in the run record
    std::string description;
    yaml::Mark mark;
    bool operator==(const JobOutput& o) const {
        return name == o.name && type == o.type && mode == o.mode && path == o.path &&
               description == o.description;
    }
};

enum class DistributionType { none, mpi, tensorflow, pytorch };
std::string_view to_string(DistributionType type);

struct JobDistribution {
    DistributionType type = DistributionType::none;
    int process_count_per_instance = 1;  // mpi, pytorch
    std::optional<int> worker_count;     // tensorflow (default: the node count)
    int parameter_server_count = 0;      // tensorflow
    yaml::Mark mark;
    bool operator==(const JobDistribution& o) const {
        return type == o.type && process_count_per_instance == o.process_count_per_instance &&
               worker_count == o.worker_count && parameter_server_count == o.parameter_server_count;
    }
};

struct JobResources {
    std::optional<int> instance_count;  // nodes (default: the hosts listed, else 1)
    std::string shm_size;               // as written ("2g"); default k_default_shm_size
    std::uint64_t shm_bytes = 0;        // parsed
    yaml::Mark instance_count_mark;
    static constexpr std::string_view k_default_shm_size = "2g";  // Azure ML's default
    bool operator==(const JobResources& o) const {
        return instance_count == o.instance_count && shm_size == o.shm_size;
    }
};

// Docker-style sizes: a number with an optional b/k/m/g/t suffix (binary units, case-insensitive,
// an optional trailing `b`: "2g", "512MB", "1024"). nullopt when malformed.
std::optional<std::uint64_t> parse_size(std::string_view text);

// One of `envpack.hosts`: `{name, address}` (both required), optionally `home` (ENVPACK_HOME on
// that host; default: its envpack's own default) and `program` (the envpack binary there, default
// `envpack` from its PATH). A plain scalar `NAME` means {name: NAME, address: NAME}.
struct JobHost {
    std::string name;     // for the transport (`ssh NAME`, `ip netns exec NAME`)
    std::string address;  // for MPI / TF_CONFIG / MASTER_ADDR wiring
    std::string home;     // ENVPACK_HOME there ("" = that envpack's default)
    std::string program;  // envpack there ("" = `envpack`)
    yaml::Mark mark;
    bool operator==(const JobHost& o) const {
        return name == o.name && address == o.address && home == o.home && program == o.program;
    }
};

enum class GpuRequestKind { all, count, none };
struct GpuRequest {
    GpuRequestKind kind = GpuRequestKind::all;
    int count = 0;
    bool operator==(const GpuRequest&) const = default;
};

struct SlurmSettings {
    std::string partition, account, qos, time;
    std::vector<std::string> sbatch_args;
    bool operator==(const SlurmSettings&) const = default;
};

struct KubernetesSettings {
    std::string namespace_name;    // `namespace`
    std::string api = "kubeflow";  // kubeflow | jobset
    std::vector<std::string> image_pull_secrets;
    std::vector<std::pair<std::string, std::string>> node_selector;
    bool operator==(const KubernetesSettings&) const = default;
};

// `envpack:` — where and how. All optional.
struct EnvpackSettings {
    std::vector<JobHost> hosts;
    std::vector<std::string> remote_exec = {"ssh"};  // a command prefix: PREFIX HOST sh -c CMD
    std::string runtime = "auto";                    // auto | crun | runc
    GpuRequest gpus;
    std::string backend;   // "" (local, or hosts when hosts are listed) | local | hosts | slurm
                           // | kubernetes
    std::string registry;  // where images, run images and artifacts go when nodes need them
    std::optional<SlurmSettings> slurm;
    std::optional<KubernetesSettings> kubernetes;
    bool gpu_sharing = false;
    yaml::Mark hosts_mark;
    bool operator==(const EnvpackSettings& o) const {
        return hosts == o.hosts && remote_exec == o.remote_exec && runtime == o.runtime &&
               gpus == o.gpus && backend == o.backend && registry == o.registry &&
               slurm == o.slurm && kubernetes == o.kubernetes && gpu_sharing == o.gpu_sharing;
    }
    // The backend in effect: `backend`, else hosts when hosts are listed, else local.
    std::string effective_backend() const;
};

struct JobSpec {
    std::string schema;  // `$schema`, kept as written
    std::string name, display_name, experiment_name, description;
    std::vector<std::pair<std::string, std::string>> tags;
    std::string code;     // source directory, relative to the job file ("" = none)
    std::string command;  // "" = the image's entrypoint and cmd
    JobEnvironment environment;
    std::vector<std::pair<std::string, std::string>> environment_variables;
    std::vector<JobInput> inputs;
    std::vector<JobOutput> outputs;
    JobDistribution distribution;
    JobResources resources;
    std::optional<std::int64_t> timeout_seconds;  // limits.timeout
    EnvpackSettings envpack;

    // Not part of the value (ignored by ==).
    std::vector<std::string> notes;  // "compute is ignored: ...", one per ignored key
    std::filesystem::path base_dir;  // the job file's directory; relative paths start there
    yaml::Mark command_mark;

    // Parses a document (overrides already applied). Throws bad-input Error.
    static JobSpec parse(const yaml::Document& doc);
    // Parses text; `file` names it in errors (and sets base_dir).
    static JobSpec parse(std::string_view text, const std::filesystem::path& file);
    // Reads `path`, applies `overrides` (`a.b=c`, in order), parses.
    static JobSpec load(const std::filesystem::path& path,
                        const std::vector<std::string>& overrides = {});

    // Canonical YAML: Azure's keys in schema order, then `envpack:`; defaults left out.
    std::string to_string() const;

    const JobInput* find_input(std::string_view name) const;
    const JobOutput* find_output(std::string_view name) const;

    // A bad-input Error pointing at `mark` in the document this spec was parsed from (without a
    // line display when the spec was not parsed).
    Error error_at(const yaml::Mark& mark, std::string_view message, std::string hint = {}) const;

    bool operator==(const JobSpec& o) const {
        return schema == o.schema && name == o.name && display_name == o.display_name &&
               experiment_name == o.experiment_name && description == o.description &&
               tags == o.tags && code == o.code && command == o.command &&
               environment == o.environment && environment_variables == o.environment_variables &&
               inputs == o.inputs && outputs == o.outputs && distribution == o.distribution &&
               resources == o.resources && timeout_seconds == o.timeout_seconds &&
               envpack == o.envpack;
    }

    // Shared, immutable: the parsed document, for error_at.
    std::shared_ptr<const yaml::Document> document;
};

// One `${{inputs.X}}` / `${{outputs.X}}` reference in a command.
struct CommandReference {
    enum class Kind { input, output };
    Kind kind;
    std::string name;
    size_t begin = 0, end = 0;  // the byte range of `${{ ... }}` in the command
};

// The references in `command`, in order. Throws bad-input Error (via `spec.error_at` at the
// command) for an expression other than inputs.X / outputs.X.
std::vector<CommandReference> command_references(const JobSpec& spec);

}  // namespace envpack
