#include "resolver/virtual_packages.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"
#include "resolver/version.h"

namespace envpack {

VirtualPackages VirtualPackages::for_platform(std::string_view platform) {
    VirtualPackages v;
    v.m_platform = std::string(platform);
    if (platform.starts_with("linux-")) {
        std::string arch(platform.substr(6));
        if (arch == "64") {
            arch = "x86_64";
        } else if (arch == "32") {
            arch = "x86";
        }
        v.set("__unix", "0");
        v.set("__linux", "4.18");
        v.set("__glibc", "2.36");
        v.set("__archspec", "1", arch);
    } else if (platform.starts_with("osx-")) {
        v.set("__unix", "0");
    }
    return v;
}

void VirtualPackages::set(std::string name, std::string version, std::string build) {
    remove(name);
    PackageRecord r;
    r.name = std::move(name);
    r.version = std::move(version);
    r.build = std::move(build);
    r.subdir = m_platform;
    r.channel = "@virtual";
    r.fn = r.name + "-" + r.version + "-" + r.build;
    m_records.push_back(std::move(r));
    std::sort(m_records.begin(), m_records.end(),
              [](const PackageRecord& a, const PackageRecord& b) { return a.name < b.name; });
}

void VirtualPackages::remove(std::string_view name) {
    std::erase_if(m_records, [&](const PackageRecord& r) { return r.name == name; });
}

void VirtualPackages::apply_override(std::string_view assignment) {
    size_t eq = assignment.find('=');
    std::string hint =
        "write --virtual NAME=VERSION[=BUILD], e.g. --virtual __cuda=12.4, or "
        "--virtual NAME= to remove one";
    if (eq == std::string_view::npos || eq == 0) {
        throw bad_input(fmt::format("invalid virtual package override `{}`", assignment), hint);
    }
    std::string name(assignment.substr(0, eq));
    if (!name.starts_with("__")) {
        throw bad_input(fmt::format("invalid virtual package override `{}`: virtual package "
                                    "names start with `__`",
                                    assignment),
                        hint);
    }
    std::string_view rest = assignment.substr(eq + 1);
    if (rest.empty()) {
        remove(name);
        return;
    }
    std::string version(rest);
    std::string build = "0";
    if (size_t eq2 = rest.find('='); eq2 != std::string_view::npos) {
        version = std::string(rest.substr(0, eq2));
        build = std::string(rest.substr(eq2 + 1));
    }
    Version parsed;
    if (version.empty() || build.empty() || !Version::try_parse(version, parsed)) {
        throw bad_input(
            fmt::format("invalid virtual package override `{}`: bad version or build", assignment),
            hint);
    }
    set(std::move(name), std::move(version), std::move(build));
}

}  // namespace envpack
