#include "builder/pip_layers.h"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/detail/install_order.h"
#include "builder/wheel_install.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/hasher.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "resolver/env_file.h"
#include "resolver/lockfile.h"
#include "resolver/pip_fetch.h"
#include "resolver/pip_index.h"
#include "resolver/pip_list.h"

namespace envpack {

namespace fs = std::filesystem;

namespace {

std::string file_name_of(const std::string& url) {
    return pip_index::percent_decode(url.substr(url.find_last_of('/') + 1));
}

// PEP 610 direct_url.json as pip writes it for an archive.
std::string direct_url_json(const std::string& url, const std::string& sha256) {
    nlohmann::json j = {
        {"url", url},
        {"archive_info", {{"hash", "sha256=" + sha256}, {"hashes", {{"sha256", sha256}}}}}};
    return j.dump();
}

fs::path record_marker(const PipInstallOptions& options, const std::string& sha256) {
    return options.home / "pip" / "record-checked" / (sha256 + ".v1");
}

PipInstalled install_one(const LockedPackage& p, const PipInstallOptions& options,
                         HttpClient* http) {
    PipInstalled out;
    out.locked = &p;
    out.install_key = pip_install_key(p, options);
    if (p.sha256.empty()) {
        throw bad_input(fmt::format("build: the lock's pip package `{}` has no sha256", p.name),
                        "lock again: envpack lock");
    }
    pip_index::IndexFile file;
    file.url = p.url;
    file.filename = file_name_of(p.url);
    file.hashes["sha256"] = p.sha256;
    const fs::path wheel = pip_fetch::fetch_wheel(file, options.home / "pip", http);
    wheel_install::Options o;
    o.prefix = options.prefix;
    o.python_major = options.python_major;
    o.python_minor = options.python_minor;
    o.requested = options.requested.contains(p.name) ? wheel_install::Requested::yes
                                                     : wheel_install::Requested::no;
    if (auto direct = options.direct_urls.find(p.name); direct != options.direct_urls.end()) {
        o.direct_url_json = direct_url_json(direct->second, p.sha256);
    }
    const std::string context =
        fmt::format("build: install the pip package {} {}", p.name, p.version);
    try {
        auto files = wheel_install::layer_files(wheel, o, p.name);
        out.entries = std::move(files.entries);
    } catch (const Error& e) {
        throw e.with_context(context);
    }
    std::error_code ec;
    const bool remembered = fs::exists(record_marker(options, p.sha256), ec);
    out.checked = std::make_shared<std::atomic<std::size_t>>(0);
    for (auto& e : out.entries) {
        if (!e.verify) {
            continue;
        }
        if (remembered) {
            e.verify = nullptr;
            continue;
        }
        // A member that fails its RECORD check when the layer reads it names the package too.
        ++out.to_check;
        e.verify = [check = std::move(e.verify), context, checked = out.checked](const Digest& d,
                                                                                 std::uint64_t n) {
            try {
                check(d, n);
            } catch (const Error& err) {
                throw err.with_context(context);
            }
            ++*checked;
        };
    }
    return out;
}

}  // namespace

Digest pip_install_key(const LockedPackage& package, const PipInstallOptions& options) {
    Hasher h("envpack.pip-install.v2");
    h.add("sha256", package.sha256);
    h.add("file", file_name_of(package.url));
    h.add("prefix", options.prefix);
    h.add("python", fmt::format("{}.{}", options.python_major, options.python_minor));
    h.add("requested", options.requested.contains(package.name));
    auto direct = options.direct_urls.find(package.name);
    h.add("direct-url", direct == options.direct_urls.end() ? std::string() : direct->second);
    return h.finish();
}

std::vector<PipInstalled> install_pip_packages(const std::vector<const LockedPackage*>& packages,
                                               const PipInstallOptions& options, HttpClient* http) {
    ThreadPool pool(std::max(1u, options.parallel));
    std::vector<std::string> urls;
    for (const auto* p : packages) {
        urls.push_back(p->url);
    }
    // In the lock's order.
    return wheel_install::detail::run_largest_first(
        pool, urls, [&](std::size_t i) { return install_one(*packages[i], options, http); });
}

void remember_record_checks(const std::vector<PipInstalled>& installed,
                            const PipInstallOptions& options) {
    for (const auto& p : installed) {
        if (p.to_check == 0 || p.checked == nullptr || *p.checked != p.to_check) {
            continue;
        }
        const fs::path marker = record_marker(options, p.locked->sha256);
        make_dirs(marker.parent_path());
        write_file_atomic(marker, "", Durability::none);
    }
}

void pip_requests_of(const EnvSpec& env, PipInstallOptions& options) {
    if (env.pip.empty()) {
        return;
    }
    try {
        for (const auto& line : pip_list::read(env).requirements) {
            const std::string name = line.requirement.normalized_name();
            options.requested.insert(name);
            if (!line.requirement.url.empty()) {
                const std::string& url = line.requirement.url;
                options.direct_urls[name] = url.substr(0, url.find('#'));
            }
        }
    } catch (const Error&) {
        // A frozen lock built without the list's files: no REQUESTED markers.
    }
}

}  // namespace envpack
