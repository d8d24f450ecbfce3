// envpack lock -f ENV.yml [-p PLATFORM]... [--virtual NAME=VERSION]... [-o FILE|-] [--explicit]
//              [--offline] [--channel-alias URL] [--json]
//
// Fills LockOptions and calls lock_environment (resolver/lock.h), then writes a conda-lock v1
// file (`conda-lock.yml` beside ENV.yml by default) or, with --explicit, conda's @EXPLICIT list
// (`conda-PLATFORM.lock`). A fresh solve: versions of an existing lock are not preferred (that
// is what `envpack build` does when it re-locks).
// Exit codes: 2 for a malformed environment file or usage, 3 when the environment cannot be
// solved (with the solver's explanation), 1 for channel or I/O failures.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/context.h"
#include "cli/http_env.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/http.h"
#include "core/log.h"
#include "resolver/condarc.h"
#include "resolver/env_file.h"
#include "resolver/lock.h"

namespace envpack::cli {

int cmd_lock(Context& ctx, const std::vector<std::string>& argv) {
    Args args("lock", argv,
              {{"--file", "-f", true},
               {"--platform", "-p", true},
               {"--virtual", "", true},
               {"--output", "-o", true},
               {"--explicit", "", false},
               {"--offline", "", false},
               {"--channel-alias", "", true},
               {"--solution", "", true},
               {"--update", "", true},
               {"--json", "", false}});
    args.expect_at_most(0);
    auto file = args.value("--file");
    if (!file) {
        throw bad_input("lock: missing -f ENV.yml", "run `envpack lock --help` for usage");
    }
    LockOptions options;
    if (auto platforms = args.values("--platform"); !platforms.empty()) {
        options.platforms = platforms;
    }
    const bool explicit_format = args.flag("--explicit");
    if (explicit_format && options.platforms.size() > 1) {
        throw bad_input("lock: --explicit writes one platform; give a single -p");
    }
    options.virtual_overrides = args.values("--virtual");
    options.offline = args.flag("--offline") ? Offline::yes : Offline::no;
    if (auto alias = args.value("--channel-alias")) {
        options.channel_options.channel_alias = *alias;
    }
    options.repodata_cache = ctx.home / "repodata";
    HttpClient http(http_options_from_env(ctx.log));
    options.http = &http;

    if (auto policy = args.value("--solution")) {
        if (*policy != "best" && *policy != "first") {
            throw bad_input(
                fmt::format("lock: --solution must be best or first, got `{}`", *policy));
        }
        options.solver_options.solution_policy =
            *policy == "first" ? SolutionPolicy::first_found : SolutionPolicy::conda_objective;
    }

    EnvSpec spec = EnvSpec::load(*file);
    for (const auto& note : spec.notes) {
        ctx.log.warn(note);
    }
    if (auto rc = condarc_from_environment()) {
        apply_condarc(rc->first, spec, options.channel_options, options.solver_options,
                      args.value("--channel-alias") ? AliasFrom::command_line : AliasFrom::condarc);
        ctx.log.infof("lock: channel settings from {}", rc->second.string());
    }
    std::optional<LockFile> previous;
    if (auto names = args.values("--update"); !names.empty()) {
        std::filesystem::path existing =
            args.value("--output").value_or(default_lock_path(spec).string());
        if (explicit_format || existing == "-") {
            throw bad_input(
                "lock: --update reads and rewrites a conda-lock file; drop --explicit "
                "and -o -");
        }
        if (!std::filesystem::exists(existing)) {
            throw bad_input(fmt::format("lock --update: no lock `{}` to update", existing.string()),
                            "run `envpack lock` once first");
        }
        previous = LockFile::load(existing);
        std::erase_if(previous->packages, [&](const LockedPackage& p) {
            return std::find(names.begin(), names.end(), p.name) != names.end();
        });
        options.preferred = &*previous;
    }
    auto solved = lock_environment(spec, options, ctx.log);
    if (!solved) {
        throw solved.error().to_error(spec.file);
    }
    const LockFile& lock = *solved;
    const std::vector<std::string>& platforms = options.platforms;

    std::string text = explicit_format ? lock.to_explicit(platforms.front()) : lock.to_string();
    std::string output =
        args.value("--output")
            .value_or((explicit_format
                           ? spec.base_dir() / fmt::format("conda-{}.lock", platforms.front())
                           : default_lock_path(spec))
                          .string());
    if (output == "-") {
        std::fwrite(text.data(), 1, text.size(), stdout);
    } else {
        write_file_atomic(output, text);
    }
    if (args.flag("--json")) {
        nlohmann::json packages = nlohmann::json::array();
        for (const auto& p : lock.packages) {
            packages.push_back({{"name", p.name},
                                {"version", p.version},
                                {"build", p.build()},
                                {"platform", p.platform},
                                {"url", p.url}});
        }
        nlohmann::json out{{"lock_file", output},
                           {"format", explicit_format ? "explicit" : "conda-lock-v1"},
                           {"platforms", platforms},
                           {"content_hash", lock.content_hash},
                           {"packages", packages}};
        std::FILE* where = output == "-" ? stderr : stdout;
        std::fprintf(where, "%s\n", out.dump(2).c_str());
    } else if (output != "-") {
        std::printf("%s: %zu packages for %s\n", output.c_str(), lock.packages.size(),
                    fmt::format("{}", fmt::join(platforms, ", ")).c_str());
    }
    return 0;
}

}  // namespace envpack::cli
