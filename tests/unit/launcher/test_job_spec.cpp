#include <catch2/catch.hpp>

#include <string>

#include "core/error.h"
#include "golden.h"
#include "launcher/job_spec.h"

using namespace envpack;
using envpack::test::check_golden;
using envpack::test::launcher_test_dir;

namespace {

std::string describe(const JobSpec& spec) {
    std::string out = spec.to_string();
    for (const auto& n : spec.notes) {
        out += "# note: " + n + "\n";
    }
    return out;
}

// Parses `text` as job.yml (with overrides) and returns the error message ("" if none).
std::string parse_error(const std::string& text, const std::vector<std::string>& sets = {}) {
    try {
        yaml::Document doc = yaml::Document::parse(text, "job.yml");
        for (const auto& s : sets) {
            doc.apply_override(s);
        }
        (void)JobSpec::parse(doc);
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::bad_input);
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("job spec: Azure ML's own distributed examples parse (golden)", "[job]") {
    for (const char* name : {"azure_pytorch_distributed", "azure_tensorflow_horovod", "full"}) {
        INFO(name);
        // Relative to the source dir, so the notes in the golden file name a stable path.
        auto path = launcher_test_dir() / "jobs" / (std::string(name) + ".yml");
        JobSpec spec = JobSpec::parse(test::read_text(path), std::string("jobs/") + name + ".yml");
        check_golden(std::string("job_") + name + ".yml", describe(spec));
        // The canonical form is a fixed point and reads back as the same value.
        JobSpec again = JobSpec::parse(spec.to_string(), "again.yml");
        CHECK(again == spec);
        CHECK(again.to_string() == spec.to_string());
    }
}

TEST_CASE("job spec: what the Azure example means", "[job]") {
    auto path = launcher_test_dir() / "jobs" / "azure_pytorch_distributed.yml";
    JobSpec spec = JobSpec::load(path);
    CHECK(spec.environment.kind == JobEnvironment::Kind::azureml);
    CHECK(spec.environment.azureml_image() == "azureml-pytorch-1.9-ubuntu18.04-py37-cuda11-gpu:6");
    CHECK(spec.distribution.type == DistributionType::pytorch);
    CHECK(spec.distribution.process_count_per_instance == 2);
    CHECK(spec.resources.instance_count == 2);
    CHECK(spec.resources.shm_bytes == 2ull << 30);
    REQUIRE(spec.inputs.size() == 3);
    CHECK(spec.inputs[0].literal);
    CHECK(spec.inputs[0].value == "1");
    CHECK(spec.inputs[2].is_dataset());
    REQUIRE(spec.notes.size() == 1);
    CHECK_THAT(spec.notes[0], Catch::Contains(":15: `compute` is ignored"));
    CHECK(spec.base_dir == path.parent_path());
    auto refs = command_references(spec);
    REQUIRE(refs.size() == 3);
    CHECK(refs[2].name == "cifar");
    CHECK(spec.command.substr(refs[2].begin, refs[2].end - refs[2].begin) == "${{inputs.cifar}}");
}

TEST_CASE("job spec: bad job files point at the line and column", "[job]") {
    struct Case {
        const char* text;
        const char* expected;
    };
    const Case cases[] = {
        {"command: x\nenvironment: a:1\ncomand: y\n",
         "job.yml:3:1: unknown key `comand` in the job file (did you mean `command`?)"},
        {"command: x\nenvironment: a:1\nresources:\n  instance_count: two\n",
         "job.yml:4:19: `resources.instance_count` must be an integer, got `two`"},
        {"command: x\nenvironment: a:1\nresources: {instance_count: 0}\n",
         "job.yml:3:29: `resources.instance_count` must be between 1 and 1024, got 0"},
        {"command: x\nenvironment: a:1\nresources: {shm_size: lots}\n",
         "job.yml:3:23: `resources.shm_size` must be a size such as 2g or 512m, got `lots`"},
        {"command: x\nenvironment: a:1\ndistribution: {type: horovod}\n",
         "job.yml:3:22: `distribution.type` must be one of mpi, tensorflow, pytorch, ray, got "
         "`horovod`"},
        {"command: x\nenvironment: a:1\ndistribution: {type: mpi}\n",
         "job.yml:3:15: an mpi `distribution` needs `process_count_per_instance`"},
        {"command: x\nenvironment: a:1\ndistribution: {type: mpi, worker_count: 2}\n",
         "job.yml:3:27: unknown key `worker_count` in an mpi `distribution`"},
        {"command: x\nenvironment: a:1\ndistribution:\n  type: tensorflow\n  worker_count: -1\n",
         "job.yml:5:17: `distribution.worker_count` must be between 1 and 4096, got -1"},
        {"command: [python, x.py]\nenvironment: a:1\n",
         "job.yml:1:10: `command` must be a string, got a list"},
        {"command: x\n", "job.yml:1:1: the job file has no `environment`"},
        {"command: x\nenvironment: azureml:foo\n",
         "job.yml:2:14: an azureml environment is `azureml:NAME:VERSION` or `azureml:NAME@latest`"},
        {"command: x\nenvironment: {conda_file: env.yml}\n",
         "job.yml:2:14: `environment` needs `image`"},
        {"command: x\nenvironment: {image: a, build: {path: .}}\n",
         "job.yml:2:25: `environment.build` (a Docker build context) is not supported"},
        {"command: x\nenvironment: a:1\ninputs:\n  d: {type: uri_folder, mode: rw_mount, path: "
         ".}\n",
         "job.yml:4:31: `inputs.d.mode` must be one of ro_mount, download, direct, got `rw_mount`"},
        {"command: x\nenvironment: a:1\ninputs:\n  d: {type: uri_folder}\n",
         "job.yml:4:6: input `d` needs a `path`"},
        {"command: x\nenvironment: a:1\ninputs:\n  d: {type: integer, value: x}\n",
         "job.yml:4:29: `inputs.d.value` must be an integer, got `x`"},
        {"command: x\nenvironment: a:1\noutputs:\n  m: {mode: ro_mount}\n",
         "job.yml:4:13: `outputs.m.mode` must be one of rw_mount, upload, got `ro_mount`"},
        {"command: x\nenvironment: a:1\nlimits: {timeout: 1h}\n",
         "job.yml:3:19: `limits.timeout` must be an integer, got `1h`"},
        {"command: echo ${{inputs.data}}\nenvironment: a:1\n",
         "job.yml:1:10: the command uses input `data`, which `inputs` does not declare"},
        {"command: echo ${{outputs.m}}\nenvironment: a:1\ninputs: {m: 1}\n",
         "job.yml:1:10: the command uses output `m`, which `outputs` does not declare"},
        {"command: echo ${{search_space.lr}}\nenvironment: a:1\n",
         "job.yml:1:10: the command uses `${{search_space.lr}}`"},
        {"command: x\nenvironment: a:1\nenvpack: {runtime: docker}\n",
         "job.yml:3:20: `envpack.runtime` must be one of auto, crun, runc, got `docker`"},
        {"command: x\nenvironment: a:1\nenvpack: {gpus: some}\n",
         "job.yml:3:17: `envpack.gpus` must be one of all, none, got `some`"},
        {"command: x\nenvironment: a:1\nenvpack: {gpu_sharing: maybe}\n",
         "job.yml:3:24: `envpack.gpu_sharing` must be true or false, got `maybe`"},
        {"command: x\nenvironment: a:1\nenvpack:\n  hosts: [{name: a, address: x}, {name: a, "
         "address: y}]\n",
         "job.yml:4:34: host `a` is listed twice"},
        {"command: x\nenvironment: a:1\nenvpack:\n  hosts: [{name: a, address: x}, {name: b}]\n",
         "job.yml:4:34: host `b` needs `address`"},
        {"command: x\nenvironment: a:1\nenvpack:\n  hosts: [{name: a, address: x, port: 22}]\n",
         "job.yml:4:33: unknown key `port` in a host of `envpack.hosts`"},
        {"command: x\nenvironment: a:1\nenvpack:\n  hosts: [{address: 1.2.3.4}]\n",
         "job.yml:4:11: a host needs `name`"},
        {"command: x\nenvironment: a:1\nenvpack:\n  host: []\n",
         "job.yml:4:3: unknown key `host` in `envpack` (did you mean `hosts`?)"},
        {"command: x\nenvironment: a:1\nresources: {instance_count: 3}\nenvpack: {hosts: [a, b]}\n",
         "job.yml:3:29: `resources.instance_count` is 3 but `envpack.hosts` lists 2"},
        {"command: x\nenvironment: a:1\ntype: sweep\n",
         "job.yml:3:7: `type` must be one of command, got `sweep`"},
        {"- a\n- b\n", "job.yml:1:1: a job file must be a mapping"},
        {"", "job.yml:1:1: the job file is empty"},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        CHECK_THAT(parse_error(c.text), Catch::Contains(c.expected));
    }
}

TEST_CASE("job spec: --set overrides any field", "[job]") {
    const std::string text =
        "command: python t.py\nenvironment: demo/env:1\nresources: {instance_count: 1}\n"
        "distribution: {type: mpi, process_count_per_instance: 2}\n";
    yaml::Document doc = yaml::Document::parse(text, "job.yml");
    doc.apply_override("resources.instance_count=4");
    doc.apply_override("limits.timeout=30");
    doc.apply_override("environment_variables.SEED=7");
    doc.apply_override("envpack.hosts=[n1, n2, n3, n4]");
    JobSpec spec = JobSpec::parse(doc);
    CHECK(spec.resources.instance_count == 4);
    CHECK(spec.timeout_seconds == 30);
    CHECK(spec.environment_variables.at(0) == std::pair<std::string, std::string>("SEED", "7"));
    CHECK(spec.envpack.hosts.size() == 4);

    // Switching the distribution type: the keys of the old type no longer fit, and the error
    // points into the file; replacing the whole mapping works.
    CHECK_THAT(parse_error(text, {"distribution.type=tensorflow"}),
               Catch::Contains("job.yml:4:27: unknown key `process_count_per_instance` in a "
                               "tensorflow `distribution`"));
    CHECK(parse_error(text, {"distribution={type: tensorflow, worker_count: 3}"}).empty());
    CHECK(parse_error(text, {"distribution.type=pytorch"}).empty());
    // A bad value from --set points at the override.
    CHECK_THAT(parse_error(text, {"resources.instance_count=many"}),
               Catch::Contains("--set:1:26: `resources.instance_count` must be an integer, got "
                               "`many`\n  resources.instance_count=many\n"));
    CHECK_THAT(parse_error(text, {"comand=x"}),
               Catch::Contains("--set:1:1: unknown key `comand` in the job file"));
}

TEST_CASE("job spec: sizes", "[job]") {
    CHECK(parse_size("2g") == 2ull << 30);
    CHECK(parse_size("512MB") == 512ull << 20);
    CHECK(parse_size("1024") == 1024);
    CHECK(parse_size("64k") == 64ull << 10);
    CHECK(!parse_size("g"));
    CHECK(!parse_size("2x"));
    CHECK(!parse_size("-1g"));
}
