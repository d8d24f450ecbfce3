// envpack lock -f ENV.yml [-p PLATFORM]... [--virtual NAME=VERSION]... [-o FILE|-] [--explicit]
//              [--offline] [--channel-alias URL] [--json]
//
// Reads the environment file, fetches (or reads from the cache) each channel's PLATFORM and
// noarch repodata, solves, and writes a conda-lock v1 file (`conda-lock.yml` beside ENV.yml by
// default) or, with --explicit, conda's @EXPLICIT list (`conda-PLATFORM.lock`).
// Exit codes: 2 for a malformed environment file or usage, 3 when the environment cannot be
// solved (with the solver's explanation), 1 for channel or I/O failures.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/context.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/http.h"
#include "core/log.h"
#include "resolver/channel.h"
#include "resolver/env_file.h"
#include "resolver/lockfile.h"
#include "resolver/match_spec.h"
#include "resolver/solver.h"
#include "resolver/virtual_packages.h"

namespace envpack::cli {
namespace {

constexpr std::string_view k_default_channel = "conda-forge";

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// HTTP settings; ENVPACK_HTTP_TIMEOUT (seconds) and ENVPACK_HTTP_RETRIES tune them (tests use
// short ones to exercise timeouts quickly).
HttpOptions http_options(Log& log) {
    HttpOptions o;
    if (const char* t = std::getenv("ENVPACK_HTTP_TIMEOUT"); t != nullptr && *t != '\0') {
        auto ms = std::chrono::milliseconds(static_cast<long>(std::atof(t) * 1000));
        o.connect_timeout = ms;
        o.low_speed_timeout = ms;
    }
    if (const char* r = std::getenv("ENVPACK_HTTP_RETRIES"); r != nullptr && *r != '\0') {
        o.retries = std::atoi(r);
    }
    o.on_retry = [&log](const std::string& message) { log.warn(message); };
    return o;
}

std::vector<MatchSpec> parse_specs(const EnvSpec& spec) {
    std::vector<MatchSpec> out;
    for (size_t i = 0; i < spec.dependencies.size(); ++i) {
        try {
            out.push_back(MatchSpec::parse(spec.dependencies[i]));
        } catch (const Error& e) {
            SourcePos pos = i < spec.dependency_pos.size() ? spec.dependency_pos[i] : SourcePos{};
            throw bad_input(spec.located_message(pos, e.what()), e.hint());
        }
    }
    return out;
}

}  // namespace

int cmd_lock(Context& ctx, const std::vector<std::string>& argv) {
    Args args("lock", argv,
              {{"--file", "-f", true},
               {"--platform", "-p", true},
               {"--virtual", "", true},
               {"--output", "-o", true},
               {"--explicit", "", false},
               {"--offline", "", false},
               {"--channel-alias", "", true},
               {"--json", "", false}});
    args.expect_at_most(0);
    auto file = args.value("--file");
    if (!file) {
        throw bad_input("lock: missing -f ENV.yml", "run `envpack lock --help` for usage");
    }
    std::vector<std::string> platforms = args.values("--platform");
    if (platforms.empty()) {
        platforms.push_back("linux-64");
    }
    const bool explicit_format = args.flag("--explicit");
    if (explicit_format && platforms.size() > 1) {
        throw bad_input("lock: --explicit writes one platform; give a single -p");
    }
    const std::vector<std::string> overrides = args.values("--virtual");

    EnvSpec spec = EnvSpec::load(*file);
    for (const auto& note : spec.notes) {
        ctx.log.warn(note);
    }
    if (!spec.pip.empty()) {
        ctx.log.warnf(
            "{}: the `pip:` list ({} requirements) is kept but not locked by `envpack lock`",
            spec.file.string(), spec.pip.size());
    }
    std::vector<std::string> channel_texts = spec.channels;
    if (channel_texts.empty()) {
        ctx.log.warnf("{}: no channels; using {}", spec.file.string(), k_default_channel);
        channel_texts.emplace_back(k_default_channel);
    }
    ChannelOptions channel_options;
    if (auto alias = args.value("--channel-alias")) {
        channel_options.channel_alias = *alias;
    }
    std::vector<Channel> channels;
    for (size_t i = 0; i < channel_texts.size(); ++i) {
        try {
            for (auto& c :
                 Channel::parse_expanded(channel_texts[i], spec.base_dir(), channel_options)) {
                channels.push_back(std::move(c));
            }
        } catch (const Error& e) {
            SourcePos pos = i < spec.channel_pos.size() ? spec.channel_pos[i] : SourcePos{};
            throw bad_input(spec.located_message(pos, e.what()), e.hint());
        }
    }
    std::vector<MatchSpec> specs = parse_specs(spec);

    HttpClient http(http_options(ctx.log));
    FetchOptions fetch_options;
    fetch_options.cache_dir = ctx.home / "repodata";
    fetch_options.offline = args.flag("--offline") ? Offline::yes : Offline::no;
    RepodataFetcher fetcher(fetch_options, &http, ctx.log);

    LockFile lock;
    lock.channels = spec.channels.empty() ? channel_texts : spec.channels;
    lock.platforms = platforms;
    lock.sources = {spec.file.filename().string()};
    for (const auto& platform : platforms) {
        auto t0 = std::chrono::steady_clock::now();
        std::vector<ChannelRecords> channel_records;
        std::size_t total = 0;
        for (const auto& channel : channels) {
            ChannelRecords cr;
            cr.name = channel.name();
            for (const std::string& subdir : {platform, std::string("noarch")}) {
                Repodata r = fetcher.fetch(channel, subdir);
                if (cr.records.empty()) {
                    cr.records = std::move(r.records);
                } else {
                    cr.records.insert(cr.records.end(), std::make_move_iterator(r.records.begin()),
                                      std::make_move_iterator(r.records.end()));
                }
            }
            total += cr.records.size();
            channel_records.push_back(std::move(cr));
        }
        ctx.log.infof("{}: read {} records from {} channel(s) in {:.3f} s", platform, total,
                      channels.size(), seconds_since(t0));
        SolveRequest request;
        request.specs = specs;
        request.channels = std::move(channel_records);
        request.virtuals = VirtualPackages::for_platform(platform);
        for (const auto& o : overrides) {
            request.virtuals.apply_override(o);
        }
        auto t1 = std::chrono::steady_clock::now();
        Solver solver(request.channels, request.virtuals, request.options);
        auto result = solver.solve(request.specs);
        ctx.log.infof("{}: solved in {:.3f} s ({} of {} records reached by the request)", platform,
                      seconds_since(t1), solver.reached_count(), solver.record_count());
        if (!result) {
            throw Error(fmt::format("lock `{}` for {}: {}", spec.file.string(), platform,
                                    result.error().explanation),
                        "relax or remove one of the conflicting specs, or add a channel that has "
                        "a compatible version",
                        ExitCode::unsatisfiable);
        }
        for (const auto& record : result->records) {
            lock.packages.push_back(LockedPackage::from_record(record, platform));
        }
        lock.content_hash[platform] = env_content_hash(spec, platform);
    }

    std::string text = explicit_format ? lock.to_explicit(platforms.front()) : lock.to_string();
    std::string output =
        args.value("--output")
            .value_or((spec.base_dir() / (explicit_format
                                              ? fmt::format("conda-{}.lock", platforms.front())
                                              : std::string("conda-lock.yml")))
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
