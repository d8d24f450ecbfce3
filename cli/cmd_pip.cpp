// envpack pip install: resolve PEP 508 requirements against find-links and simple indexes for a
// target python, and install the wheels into a prefix, as `pip install --prefix` does.
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "builder/pip_install.h"
#include "cli/args.h"
#include "cli/context.h"
#include "cli/http_env.h"
#include "core/error.h"
#include "core/http.h"

namespace envpack::cli {

int cmd_pip(Context& ctx, const std::vector<std::string>& argv) {
    if (argv.empty() || argv[0] != "install") {
        throw bad_input("usage: envpack pip install [options] REQ...",
                        "run `envpack pip --help` for the options");
    }
    std::vector<std::string> rest(argv.begin() + 1, argv.end());
    Args args("pip install", rest,
              {{"--prefix", "", true},
               {"--python", "", true},
               {"--platform", "-p", true},
               {"--glibc", "", true},
               {"--find-links", "-f", true},
               {"--index-url", "-i", true},
               {"--extra-index-url", "", true},
               {"--no-index", "", false},
               {"--pre", "", false},
               {"--interpreter", "", true},
               {"--threads", "", true},
               {"--json", "", false}});
    pip_install::Request request;
    request.requirements = args.positionals();
    if (request.requirements.empty()) {
        throw bad_input("pip install: no requirement given", "name at least one project");
    }
    auto prefix = args.value("--prefix");
    if (!prefix) {
        throw bad_input("pip install: --prefix is required", "e.g. --prefix /opt/conda");
    }
    request.prefix = std::filesystem::absolute(*prefix).lexically_normal();
    request.python = pep440::Version::parse(args.value("--python").value_or("3.11"));
    request.platform = args.value("--platform").value_or("linux-64");
    request.glibc = args.value("--glibc").value_or("2.17");
    request.find_links = args.values("--find-links");
    if (!args.flag("--no-index")) {
        if (auto index = args.value("--index-url")) {
            request.indexes.push_back(*index);
        }
        for (const auto& extra : args.values("--extra-index-url")) {
            request.indexes.push_back(extra);
        }
    }
    if (request.find_links.empty() && request.indexes.empty()) {
        throw bad_input("pip install: no source of packages",
                        "give --find-links DIR or --index-url URL (envpack has no default index)");
    }
    request.pre =
        args.flag("--pre") ? pep440::PreReleases::allow : pep440::PreReleases::by_specifier;
    request.interpreter = args.value("--interpreter").value_or("");
    request.threads = static_cast<unsigned>(args.uint_value("--threads").value_or(0));
    request.cache_dir = ctx.home / "pip";

    std::optional<HttpClient> http;
    bool remote = !request.indexes.empty();
    for (const auto& f : request.find_links) {
        remote = remote || f.starts_with("http://") || f.starts_with("https://");
    }
    if (remote) {
        http.emplace(http_options_from_env(ctx.log));
    }
    auto result = pip_install::install(request, http ? &*http : nullptr);
    if (!result) {
        throw Error(ErrorKind::unsatisfiable,
                    fmt::format("pip install: the requirements cannot be met together:\n{}",
                                result.error().explanation),
                    "relax a version constraint, or add a source that has the missing wheels");
    }
    if (args.flag("--json")) {
        nlohmann::json j;
        j["prefix"] = request.prefix.string();
        j["packages"] = nlohmann::json::array();
        for (const auto& p : result->packages) {
            j["packages"].push_back({{"name", p.name},
                                     {"version", p.version},
                                     {"filename", p.filename},
                                     {"url", p.url},
                                     {"sha256", p.sha256},
                                     {"files", p.files.size()}});
        }
        const auto& c = result->counters;
        j["metadata"] = {{"pages", c.pages},
                         {"local", c.local_metadata},
                         {"pep658", c.pep658},
                         {"range", c.range_metadata},
                         {"range_requests", c.range_requests},
                         {"downloads", c.downloads},
                         {"cache_hits", c.cache_hits}};
        j["resolve_ms"] = result->resolve_time.count();
        j["install_ms"] = result->install_time.count();
        std::printf("%s\n", j.dump().c_str());
    } else {
        for (const auto& p : result->packages) {
            std::printf("%s %s\n", p.name.c_str(), p.version.c_str());
        }
    }
    return 0;
}

}  // namespace envpack::cli
