// What every subcommand receives: the logger and ENVPACK_HOME. Filled once in main.cpp.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cli/args.h"
#include "core/log.h"

namespace envpack {
struct RegistryOptions;
}

namespace envpack::cli {

struct Context {
    Log& log;
    std::filesystem::path home;  // $ENVPACK_HOME or ${XDG_CACHE_HOME:-$HOME/.cache}/envpack
    std::filesystem::path store_dir() const { return home / "store"; }
};

using CommandFn = int (*)(Context&, const std::vector<std::string>& args);

struct Command {
    const char* name;
    CommandFn run;
    const char* summary;
    const char* usage;
};

// One function per subcommand, each in its own cli/cmd_<name>.cpp.
int cmd_import(Context&, const std::vector<std::string>&);
int cmd_images(Context&, const std::vector<std::string>&);
int cmd_inspect(Context&, const std::vector<std::string>&);
int cmd_rm(Context&, const std::vector<std::string>&);
int cmd_gc(Context&, const std::vector<std::string>&);
int cmd_unpack(Context&, const std::vector<std::string>&);
int cmd_export(Context&, const std::vector<std::string>&);
int cmd_snapshot(Context&, const std::vector<std::string>&);
int cmd_lock(Context&, const std::vector<std::string>&);
int cmd_index(Context&, const std::vector<std::string>&);
int cmd_build(Context&, const std::vector<std::string>&);

int cmd_push(Context&, const std::vector<std::string>&);
int cmd_pull(Context&, const std::vector<std::string>&);
int cmd_login(Context&, const std::vector<std::string>&);
int cmd_base(Context&, const std::vector<std::string>&);
int cmd_run(Context&, const std::vector<std::string>&);
int cmd_pip(Context&, const std::vector<std::string>&);
int cmd_node(Context&, const std::vector<std::string>&);  // internal: envpack.hosts

// Registry options shared by push, pull and login (defined in cmd_push.cpp): --insecure-registry,
// --ca-cert, --parallel, --retries, --chunk-size, --authfile, --json.
std::vector<OptionSpec> registry_option_specs();
envpack::RegistryOptions registry_options_from(const Args& args);

// Writes `usage` to stdout when args contain --help/-h and returns true.
bool wants_help(const std::vector<std::string>& args, const char* usage);

}  // namespace envpack::cli
