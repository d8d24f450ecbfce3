#include "builder/pip_install.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "builder/detail/install_order.h"
#include "builder/wheel_install.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "resolver/pep508.h"
#include "resolver/wheel_tags.h"

namespace envpack::pip_install {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

std::vector<pep508::Requirement> parse_requirements(const std::vector<std::string>& texts) {
    std::vector<pep508::Requirement> out;
    for (const auto& text : texts) {
        auto r = pep508::Requirement::try_parse(text);
        if (!r) {
            throw bad_input(
                fmt::format("requirement `{}`: {}", text, pep508::describe(r.error(), text)));
        }
        if (!r->url.empty()) {
            throw bad_input(
                fmt::format("requirement `{}`: direct URL requirements are not supported "
                            "by `envpack pip install` yet",
                            text),
                "put the wheel in a --find-links directory and name the project");
        }
        out.push_back(std::move(*r));
    }
    return out;
}

}  // namespace

std::expected<Result, pip_resolve::Unresolvable> install(const Request& request, HttpClient* http) {
    const auto requirements = parse_requirements(request.requirements);
    const auto& release = request.python.release();
    if (release.size() < 2) {
        throw bad_input(
            fmt::format("python version `{}`: give at least X.Y", request.python.to_string()));
    }
    const auto major = static_cast<unsigned>(release[0]);
    const auto minor = static_cast<unsigned>(release[1]);

    pip_fetch::Options fetch_options;
    fetch_options.find_links = request.find_links;
    fetch_options.indexes = request.indexes;
    fetch_options.python = request.python;
    fetch_options.pre = request.pre;
    fetch_options.cache_dir = request.cache_dir;
    wheel::TargetTags tags(
        wheel::Target::for_image(request.python, request.platform, request.glibc));
    pip_fetch::Finder finder(std::move(fetch_options), std::move(tags), http);

    pip_resolve::Options options;
    options.environment = pep508::Environment::for_target(request.python, request.platform);
    options.pre = request.pre;
    options.installed = request.installed;

    Result result;
    auto start = Clock::now();
    auto pins = pip_resolve::resolve(requirements, finder, options);
    result.resolve_time = since(start);
    if (!pins) {
        std::string why = pins.error().explanation;
        std::set<std::string> names;
        for (const auto& r : requirements) {
            names.insert(r.normalized_name());
        }
        for (const auto& name : names) {
            for (const auto& rej : finder.rejections(name)) {
                why += fmt::format("\n  {} was not usable: {}", rej.filename, rej.reason);
            }
        }
        return std::unexpected(pip_resolve::Unresolvable{why});
    }

    std::set<std::string> top;
    for (const auto& r : requirements) {
        top.insert(r.normalized_name());
    }
    start = Clock::now();
    ThreadPool pool(request.threads);
    std::vector<std::string> urls;
    for (const auto& pin : *pins) {
        urls.push_back(finder.candidate(pin.name, pin.release).file.url);
    }
    // In resolution order.
    result.packages = wheel_install::detail::run_largest_first(pool, urls, [&](std::size_t i) {
        const auto& pin = (*pins)[i];
        const auto& cand = finder.candidate(pin.name, pin.release);
        auto path = finder.wheel_path(pin.name, pin.release);
        wheel_install::Options o;
        o.prefix = request.prefix;
        o.python_major = major;
        o.python_minor = minor;
        o.interpreter = request.interpreter;
        o.requested =
            top.contains(pin.name) ? wheel_install::Requested::yes : wheel_install::Requested::no;
        auto installed = wheel_install::install_wheel(path, o, pin.name);
        Package p;
        p.name = pin.name;
        p.version = installed.version;
        p.filename = cand.file.filename;
        p.url = cand.file.url;
        auto sha = cand.file.hashes.find("sha256");
        p.sha256 =
            sha != cand.file.hashes.end() ? sha->second : Digest::of_file(path.string()).hex();
        p.files = std::move(installed.files);
        return p;
    });
    result.install_time = since(start);
    result.counters = finder.counters();
    return result;
}

}  // namespace envpack::pip_install
