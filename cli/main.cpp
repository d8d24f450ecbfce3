// envpack's entry point: global options, subcommand dispatch, and the one place errors are caught
// and printed (`error: ...` / `hint: ...`) with their exit codes.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/context.h"
#include "cli/run_job.h"
#include "core/error.h"
#include "core/heap.h"

namespace envpack::cli {
namespace {

constexpr Command k_commands[] = {
    {"import", cmd_import, "make a one-layer image from a root filesystem (directory or tar)",
     "usage: envpack import ROOTFS_DIR|TAR -t NAME[:TAG] [--compression gzip|zstd] [--json]\n"},
    {"images", cmd_images, "list the images in the local store",
     "usage: envpack images [--json]\n"},
    {"inspect", cmd_inspect, "show an image's manifest, config, layers and labels",
     "usage: envpack inspect REF [--json]\n"},
    {"rm", cmd_rm, "remove an image reference from the local store", "usage: envpack rm REF...\n"},
    {"gc", cmd_gc, "delete blobs and unpacked trees no image in the local store refers to",
     "usage: envpack gc [--json]\n"},
    {"unpack", cmd_unpack, "unpack an image's root filesystem (cached, as `envpack run` uses it)",
     "usage: envpack unpack REF [-o DIR] [--json]\n"
     "  prints $ENVPACK_HOME/unpacked/<manifest hex>/rootfs, unpacked once per image and shared\n"
     "  -o DIR   unpack into DIR (new or empty) instead of the cache\n"},
    {"export", cmd_export, "write an image as an OCI or docker-load tar",
     "usage: envpack export REF -o FILE.tar [--format oci|docker]\n"},
    {"snapshot", cmd_snapshot, "snapshot a source directory (honours .amlignore / .gitignore)",
     "usage: envpack snapshot DIR [--list] [-o FILE.tar] [--json] [--max-bytes N] [--max-files N]\n"
     "  --list         print the included files and symlinks, one per line, sorted bytewise\n"
     "  -o FILE.tar    write the snapshot as a deterministic layer (.gz/.tgz: gzip, .zst: zstd)\n"
     "  --json         print digest, file count, bytes and the ten largest files as JSON\n"
     "  --max-bytes N  size limit (default 314572800 = 300 MiB; 0: none); not applied to --list\n"
     "  --max-files N  file limit (default 2000; 0: none); not applied to --list\n"},
    {"lock", cmd_lock, "solve an environment file into a conda-lock v1 (or @EXPLICIT) lock file",
     "usage: envpack lock -f ENV.yml [-p PLATFORM]... [--virtual NAME=VERSION]... [-o FILE|-]\n"
     "                    [--explicit] [--offline] [--channel-alias URL] [--update NAME]...\n"
     "                    [--solution best|first] [--json]\n"
     "  The conda dependencies are solved first, then the file's `pip:` list against the python\n"
     "  that solve chose (wheels only; -r/-c, -i, --extra-index-url, --no-index, -f, --hash).\n"
     "  -p PLATFORM   target platform (default linux-64; repeat for several)\n"
     "  --virtual     override a virtual package of the target image (__cuda=12.4, __glibc=2.28)\n"
     "  -o FILE       output (default conda-lock.yml, or conda-PLATFORM.lock with --explicit,\n"
     "                beside ENV.yml); `-` for stdout\n"
     "  --explicit    write conda's @EXPLICIT list (URL#sha256)\n"
     "  --offline     use only the repodata cache in $ENVPACK_HOME/repodata (pip indexes are\n"
     "                skipped with a warning)\n"
     "  --update NAME re-solve only NAME (repeat), keeping the rest of the existing lock\n"
     "  --solution    best (default: conda's objective, newest requested packages) or first\n"
     "                (libsolv's first answer, as conda's libmamba solver gives)\n"
     "  Channels and their alias come from .condarc ($CONDARC, else ~/.condarc) when present.\n"},
    {"index", cmd_index, "write repodata.json for a local channel from its package files",
     "usage: envpack index CHANNEL_DIR [--shards] [--json]\n\n"
     "  --shards      also write CEP 16 sharded repodata (SUBDIR/repodata_shards.msgpack.zst and\n"
     "                SUBDIR/shards/), which lock reads name by name\n"},
    {"build", cmd_build, "build (or find in the cache) a conda environment's image, locking first",
     "usage: envpack build -f ENV.yml [--lock FILE] [--locked|--frozen] [-p PLATFORM]\n"
     "                     [--virtual NAME=VERSION]... [--base REF] [-t NAME[:TAG]] [--prefix "
     "/opt/conda]\n"
     "                     [--compression gzip|zstd] [--max-layers N] [--offline] [--push REF]\n"
     "                     [--explain] [--json] [registry options of push: --insecure-registry "
     "HOST, ...]\n"
     "  --lock FILE     the lock (default conda-lock.yml beside ENV.yml); made or re-solved\n"
     "                  (preferring its versions) when missing or stale, and written\n"
     "  --locked        refuse a missing or stale lock (exit 2), for CI\n"
     "  --frozen        use the lock as it is, without checking it against ENV.yml\n"
     "  --virtual       a virtual package of the target (__cuda=12.4), after the base's label\n"
     "                  org.envpack.virtual-packages\n"
     "  --base REF      base image in the local store, pulled first if it names a registry\n"
     "                  (default: none, an image of the environment alone)\n"
     "  --push REF      push the image to a registry after the build\n"
     "  --max-layers N  layers for the environment (default 100 minus the base's layers)\n"
     "  --explain       say which layers were reused and why others were rebuilt\n"},
    {"push", cmd_push, "send an image from the local store to a registry",
     "usage: envpack push SRC [DEST] [--insecure-registry HOST]... [--ca-cert FILE] [--parallel "
     "N]\n"
     "                    [--retries N] [--chunk-size BYTES] [--authfile FILE] [--json]\n"
     "SRC is a local image; DEST a registry reference (default: SRC, which must name a registry).\n"
     "Plain http only for localhost, 127.0.0.0/8 and --insecure-registry hosts. Credentials from\n"
     "--authfile, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json or ~/.docker/config.json.\n"},
    {"pull", cmd_pull, "fetch an image from a registry into the local store",
     "usage: envpack pull REF [--platform OS/ARCH] [--insecure-registry HOST]... [--ca-cert FILE]\n"
     "                    [--parallel N] [--retries N] [--authfile FILE] [--json]\n"
     "An index or manifest list is resolved to --platform (default linux/amd64).\n"},
    {"base", cmd_base, "build a base image from a recipe (Debian packages + CUDA components)",
     "usage: envpack base build RECIPE.yaml [-t NAME[:TAG]] [--lock FILE] [--update] [--push REF]\n"
     "                          [--compression gzip|zstd] [--json]\n"
     "  --lock FILE  the base lock (default: RECIPE.lock beside the recipe)\n"
     "  --update     resolve the Debian packages again even when the lock is fresh\n"
     "  --push REF   push the image to a registry after the build\n"},
    {"pip", cmd_pip, "resolve and install Python wheels into a prefix (as pip install --prefix)",
     "usage: envpack pip install --prefix P [--python 3.11] [-p linux-64] [--glibc 2.17]\n"
     "                           [--find-links DIR|URL]... [--index-url URL]\n"
     "                           [--extra-index-url URL]... [--no-index] [--pre]\n"
     "                           [--interpreter PATH] [--threads N] [--json] REQ...\n"
     "  wheels only (sdists are refused); markers and tags are those of the target image;\n"
     "  shebangs name --interpreter (default P/bin/python); downloads are cached in\n"
     "  $ENVPACK_HOME/pip\n"},
    {"run", cmd_run, "launch a job file (Azure ML command-job keys); --dry-run prints the plan",
     "usage: envpack run JOB.yaml [--set KEY=VALUE]... --dry-run [--json]\n"
     "  --set K=V   override a field of the job file (K a dotted path: resources.instance_count;\n"
     "              V read as YAML: 4, pytorch, [a, b], {type: mpi, process_count_per_instance: "
     "2})\n"
     "  --dry-run   print the plan (nodes, containers, processes and their environments)\n"
     "  --json      the plan as JSON\n"
     "exit codes: the job's; 125 when envpack fails before the job starts (bad job file, ...)\n"},
    {"runs", cmd_runs, "list run records, or show one",
     "usage: envpack runs [--json] | envpack runs show ID [--json]\n"},
    {"logs", cmd_logs, "print a run's process logs (-f: follow until it finishes)",
     "usage: envpack logs ID [--rank N] [-f|--follow]\n"},
    {"cancel", cmd_cancel, "stop a run (detached or not) and everything it started",
     "usage: envpack cancel ID\n"},
    {"node", cmd_node, "internal: what `envpack run` runs on each of envpack.hosts",
     "usage: envpack node blobs-have DIGEST... | blobs-receive | run --run ID --node NAME\n"
     "       | exec --run ID --node NAME --container ID --runtime R --process JSON\n"},
    {"login", cmd_login, "check and save registry credentials (docker config.json)",
     "usage: envpack login REGISTRY -u USER --password-stdin [--authfile FILE] [--no-check]\n"
     "                    [--insecure-registry HOST]... [--ca-cert FILE]\n"},
};

void print_usage(std::FILE* out) {
    std::fprintf(
        out,
        "usage: envpack [-v|--verbose] [-q|--quiet] COMMAND [ARGS...]\n\n"
        "envpack turns conda environment files into layered OCI images, keeps them in a\n"
        "local store or an OCI registry, and launches training jobs from them.\n\ncommands:\n");
    for (const auto& c : k_commands) {
        std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
    }
    std::fprintf(out,
                 "\nENVPACK_HOME (default ~/.cache/envpack) holds the store and caches.\n"
                 "ENVPACK_THREADS caps worker threads; ENVPACK_TUNE_HEAP=0 turns off the heap "
                 "tuning\n(lock and build re-execute once for a huge-page malloc heap), =1 uses it "
                 "everywhere.\n"
                 "exit codes: 0 ok, 1 failure, 2 bad input or usage, 3 unsatisfiable\n");
}

std::filesystem::path default_home() {
    if (const char* h = std::getenv("ENVPACK_HOME"); h != nullptr && *h != '\0') {
        return h;
    }
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
        return std::filesystem::path(x) / "envpack";
    }
    const char* home = std::getenv("HOME");
    return std::filesystem::path(home != nullptr && *home != '\0' ? home : "/root") / ".cache" /
           "envpack";
}

int run(int argc, char** argv) {
    LogOptions log_options;
    log_options.progress = ::isatty(2) != 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        std::string a = argv[i];
        if (a == "-v" || a == "--verbose") {
            log_options.level = LogLevel::info;
        } else if (a == "-vv") {
            log_options.level = LogLevel::debug;
        } else if (a == "-q" || a == "--quiet") {
            log_options.level = LogLevel::quiet;
            log_options.progress = false;
        } else if (a == "-h" || a == "--help") {
            print_usage(stdout);
            return 0;
        } else if (a == "--version") {
            std::printf("envpack 0.1.0\n");
            return 0;
        } else {
            throw bad_input(fmt::format("unknown global option `{}`", a), "run `envpack --help`");
        }
    }
    if (i >= argc) {
        print_usage(stderr);
        return static_cast<int>(ExitCode::bad_input);
    }
    std::string name = argv[i];
    std::vector<std::string> args(argv + i + 1, argv + argc);
    Log log(log_options);
    Context ctx{log, default_home()};
    for (const auto& c : k_commands) {
        if (name == c.name) {
            if (wants_help(args, c.usage)) {
                return 0;
            }
            return c.run(ctx, args);
        }
    }
    throw bad_input(fmt::format("unknown command `{}`", name),
                    "run `envpack --help` for the commands");
}

}  // namespace

bool wants_help(const std::vector<std::string>& args, const char* usage) {
    for (const auto& a : args) {
        if (a == "--") {
            break;
        }
        if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
            return true;
        }
    }
    return false;
}

// Commands that read whole channels and solve, or build environment images, get the huge-page
// heap (worth a re-exec); the others start once.
HeapUse heap_use(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (!a.starts_with('-')) {
            return a == "lock" || a == "build" ? HeapUse::large : HeapUse::small;
        }
    }
    return HeapUse::small;
}

}  // namespace envpack::cli

int main(int argc, char** argv) {
    envpack::tune_heap(argv, envpack::cli::heap_use(argc, argv));
    try {
        return envpack::cli::run(argc, argv);
    } catch (const envpack::Error& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "error: %s\n", e.what());
        if (!e.hint().empty()) {
            std::fprintf(stderr, "hint: %s\n", e.hint().c_str());
        }
        return static_cast<int>(e.code());
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "error: %s\n", e.what());
        return static_cast<int>(envpack::ExitCode::failure);
    }
}
