#include "resolver/wheel_tags.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "core/error.h"
#include "resolver/pep508.h"

namespace envpack::wheel {
namespace {

std::string lowered(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        const size_t at = s.find(sep, start);
        if (at == std::string_view::npos) {
            out.push_back(s.substr(start));
            return out;
        }
        out.push_back(s.substr(start, at - start));
        start = at + 1;
    }
}

bool parse_uint(std::string_view s, unsigned& out) {
    if (s.empty()) {
        return false;
    }
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

// `manylinux_2_17_x86_64`, `manylinux2014_x86_64`, `musllinux_1_1_aarch64`: the libc it needs and
// the machine, or nullopt for other platforms.
struct LinuxPlatform {
    Libc libc = Libc::glibc;
    unsigned major = 0;
    unsigned minor = 0;
    std::string machine;
};

std::optional<LinuxPlatform> parse_linux_platform(std::string_view p) {
    struct Legacy {
        std::string_view prefix;
        unsigned minor;
    };
    static constexpr Legacy k_legacy[] = {
        {"manylinux1_", 5}, {"manylinux2010_", 12}, {"manylinux2014_", 17}};
    for (const auto& legacy : k_legacy) {
        if (p.starts_with(legacy.prefix)) {
            return LinuxPlatform{Libc::glibc, 2, legacy.minor,
                                 std::string(p.substr(legacy.prefix.size()))};
        }
    }
    for (auto [prefix, libc] : {std::pair{std::string_view("manylinux_"), Libc::glibc},
                                std::pair{std::string_view("musllinux_"), Libc::musl}}) {
        if (!p.starts_with(prefix)) {
            continue;
        }
        auto parts = split(p.substr(prefix.size()), '_');
        LinuxPlatform out;
        out.libc = libc;
        if (parts.size() < 3 || !parse_uint(parts[0], out.major) ||
            !parse_uint(parts[1], out.minor)) {
            return std::nullopt;
        }
        const size_t machine_at = prefix.size() + parts[0].size() + parts[1].size() + 2;
        out.machine = std::string(p.substr(machine_at));
        return out;
    }
    return std::nullopt;
}

// The platform tags of `t`, most preferred first.
std::vector<std::string> platforms(const Target& t) {
    std::vector<std::string> out;
    if (t.libc == Libc::glibc) {
        const bool x86 = t.machine == "x86_64" || t.machine == "i686";
        // packaging stops below 2.5 on x86 (manylinux1) and below 2.17 elsewhere (manylinux2014).
        const unsigned oldest = x86 ? 5 : 17;
        // Across glibc major versions packaging assumes 50 minors per older major; only 2.x
        // exists, so the list runs 2.M down to the oldest.
        for (unsigned minor = t.libc_minor + 1; minor-- > oldest;) {
            out.push_back(fmt::format("manylinux_2_{}_{}", minor, t.machine));
            const char* legacy = minor == 17   ? "manylinux2014"
                                 : minor == 12 ? "manylinux2010"
                                 : minor == 5  ? "manylinux1"
                                               : nullptr;
            if (legacy != nullptr) {
                out.push_back(fmt::format("{}_{}", legacy, t.machine));
            }
        }
    } else {
        for (unsigned minor = t.libc_minor + 1; minor-- > 0;) {
            out.push_back(fmt::format("musllinux_{}_{}_{}", t.libc_major, minor, t.machine));
        }
    }
    out.push_back(fmt::format("linux_{}", t.machine));
    return out;
}

}  // namespace

Tag Tag::parse(std::string_view text) {
    auto parts = split(text, '-');
    if (parts.size() != 3 ||
        std::any_of(parts.begin(), parts.end(), [](std::string_view p) { return p.empty(); })) {
        throw bad_input(
            fmt::format("invalid wheel tag `{}`", text),
            "a tag is interpreter-abi-platform, such as cp311-cp311-manylinux_2_17_x86_64");
    }
    return Tag{lowered(parts[0]), lowered(parts[1]), lowered(parts[2])};
}

std::string Tag::to_string() const {
    return fmt::format("{}-{}-{}", interpreter, abi, platform);
}

std::optional<WheelFilename> WheelFilename::try_parse(std::string_view filename) {
    if (!filename.ends_with(".whl")) {
        return std::nullopt;
    }
    filename.remove_suffix(4);
    auto parts = split(filename, '-');
    if (parts.size() != 5 && parts.size() != 6) {
        return std::nullopt;
    }
    WheelFilename out;
    const std::string_view name = parts[0];
    if (name.empty() || name.find("__") != std::string_view::npos ||
        !std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '.';
        })) {
        return std::nullopt;
    }
    out.name = std::string(name);
    auto version = pep440::Version::try_parse(parts[1]);
    if (!version) {
        return std::nullopt;
    }
    out.version = *version;
    if (parts.size() == 6) {
        std::string_view build = parts[2];
        size_t digits = 0;
        while (digits < build.size() && build[digits] >= '0' && build[digits] <= '9') {
            ++digits;
        }
        BuildTag tag;
        auto [end, ec] = std::from_chars(build.data(), build.data() + digits, tag.number);
        if (digits == 0 || ec != std::errc()) {
            return std::nullopt;
        }
        tag.rest = std::string(build.substr(digits));
        out.build = std::move(tag);
    }
    const size_t n = parts.size();
    for (auto interpreter : split(parts[n - 3], '.')) {
        for (auto abi : split(parts[n - 2], '.')) {
            for (auto platform : split(parts[n - 1], '.')) {
                Tag tag{lowered(interpreter), lowered(abi), lowered(platform)};
                if (std::find(out.tags.begin(), out.tags.end(), tag) == out.tags.end()) {
                    out.tags.push_back(std::move(tag));
                }
            }
        }
    }
    return out;
}

WheelFilename WheelFilename::parse(std::string_view filename) {
    if (auto w = try_parse(filename)) {
        return *w;
    }
    throw bad_input(fmt::format("invalid wheel file name `{}`", filename),
                    "wheels are named {name}-{version}[-{build}]-{python}-{abi}-{platform}.whl "
                    "(PEP 427), with `_` for `-` in the name");
}

std::string WheelFilename::normalized_name() const {
    return pep508::normalize_name(name);
}

Target Target::for_image(const pep440::Version& python, std::string_view conda_platform,
                         std::string_view glibc_version) {
    Target t;
    auto machine = pep508::Environment::machine_for(conda_platform);
    if (!machine) {
        throw bad_input(
            fmt::format("wheels cannot be chosen for the platform `{}`", conda_platform),
            "images are Linux: use linux-64, linux-aarch64, linux-ppc64le, linux-s390x, "
            "linux-32 or linux-armv7l");
    }
    t.machine = *machine;
    const auto& release = python.release();
    if (release.size() < 2 || release[0] > 99 || release[1] > 999) {
        throw bad_input(fmt::format("the python version `{}` is not X.Y[.Z]", python.to_string()));
    }
    t.python_major = static_cast<unsigned>(release[0]);
    t.python_minor = static_cast<unsigned>(release[1]);
    auto parts = split(glibc_version, '.');
    if (parts.size() < 2 || !parse_uint(parts[0], t.libc_major) ||
        !parse_uint(parts[1], t.libc_minor) || t.libc_major != 2) {
        throw bad_input(fmt::format("invalid glibc version `{}`", glibc_version),
                        "give the image's glibc as 2.M (the lock's __glibc, or --virtual "
                        "__glibc=2.31)");
    }
    return t;
}

TargetTags::TargetTags(const Target& target) : m_target(target) {
    const auto plats = platforms(target);
    const std::string cp = fmt::format("cp{}{}", target.python_major, target.python_minor);
    // CPython before 3.8 had the pymalloc `m` ABI flag.
    const std::string abi = target.python_major == 3 && target.python_minor < 8 ? cp + "m" : cp;
    const bool abi3 = target.python_major == 3 && target.python_minor >= 2;
    auto add = [&](const std::string& interpreter, const std::string& a, const std::string& p) {
        m_tags.push_back(Tag{interpreter, a, p});
    };
    for (const auto& p : plats) {
        add(cp, abi, p);
    }
    if (abi3) {
        for (const auto& p : plats) {
            add(cp, "abi3", p);
        }
    }
    for (const auto& p : plats) {
        add(cp, "none", p);
    }
    if (abi3) {
        for (unsigned minor = target.python_minor; minor-- > 2;) {
            for (const auto& p : plats) {
                add(fmt::format("cp{}{}", target.python_major, minor), "abi3", p);
            }
        }
    }
    // pyXY, pyX, then pyX(Y-1) ... pyX0.
    std::vector<std::string> py{fmt::format("py{}{}", target.python_major, target.python_minor),
                                fmt::format("py{}", target.python_major)};
    for (unsigned minor = target.python_minor; minor-- > 0;) {
        py.push_back(fmt::format("py{}{}", target.python_major, minor));
    }
    for (const auto& v : py) {
        for (const auto& p : plats) {
            add(v, "none", p);
        }
    }
    add(cp, "none", "any");
    for (const auto& v : py) {
        add(v, "none", "any");
    }
    for (size_t k = 0; k < m_tags.size(); ++k) {
        m_rank.emplace(m_tags[k].to_string(), k);  // keeps the first (best) of duplicates
    }
}

std::optional<std::size_t> TargetTags::rank(const Tag& tag) const {
    auto it = m_rank.find(tag.to_string());
    if (it == m_rank.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::optional<std::size_t> TargetTags::best_rank(const WheelFilename& wheel) const {
    std::optional<std::size_t> best;
    for (const auto& tag : wheel.tags) {
        if (auto r = rank(tag); r && (!best || *r < *best)) {
            best = r;
        }
    }
    return best;
}

std::string TargetTags::why_incompatible(const WheelFilename& wheel) const {
    if (best_rank(wheel)) {
        return {};
    }
    const Target& t = m_target;
    const std::string image = fmt::format(
        "the image has CPython {}.{} on {} with {} {}.{}", t.python_major, t.python_minor,
        t.machine, t.libc == Libc::glibc ? "glibc" : "musl", t.libc_major, t.libc_minor);
    // Platform first: it is what users get wrong most (a macOS or musllinux wheel).
    bool platform_fits = false;
    std::string platform_reason;
    for (const auto& tag : wheel.tags) {
        const std::string& p = tag.platform;
        if (p == "any" || p == "linux_" + t.machine) {
            platform_fits = true;
            continue;
        }
        if (auto lp = parse_linux_platform(p)) {
            if (lp->machine != t.machine) {
                platform_reason = fmt::format("it is built for {} machines", lp->machine);
            } else if (lp->libc != t.libc) {
                platform_reason =
                    lp->libc == Libc::musl
                        ? "it is a musllinux wheel, for musl libc, and the image uses glibc"
                        : "it is a manylinux wheel, for glibc, and the image uses musl libc";
            } else if (lp->major > t.libc_major ||
                       (lp->major == t.libc_major && lp->minor > t.libc_minor)) {
                platform_reason =
                    fmt::format("it needs {} {}.{} or newer",
                                lp->libc == Libc::glibc ? "glibc" : "musl", lp->major, lp->minor);
            } else {
                platform_fits = true;
            }
            continue;
        }
        if (p.starts_with("macosx")) {
            platform_reason = "it is built for macOS";
        } else if (p.starts_with("win")) {
            platform_reason = "it is built for Windows";
        } else {
            platform_reason = fmt::format("it is built for the platform `{}`", p);
        }
    }
    if (!platform_fits) {
        return fmt::format("{}: {}; {}", wheel.name, platform_reason, image);
    }
    std::vector<std::string> pythons;
    for (const auto& tag : wheel.tags) {
        const std::string s = fmt::format("{} (ABI {})", tag.interpreter, tag.abi);
        if (std::find(pythons.begin(), pythons.end(), s) == pythons.end()) {
            pythons.push_back(s);
        }
    }
    return fmt::format("{}: it is built for {}; {}", wheel.name, fmt::join(pythons, ", "), image);
}

}  // namespace envpack::wheel
