// Wheel file names and the compatibility tags (PEP 425, PEP 600) an image's Python accepts, as
// pip and its vendored `packaging` compute them — for the *target image*, never the build host.
//
// `WheelFilename::parse` reads `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`
// (packaging's `parse_wheel_filename`): the compressed tag sets (`py2.py3-none-any`) expand to one
// `Tag` each, in file-name order, lower-cased; a build tag is a number and an optional rest.
//
// `TargetTags` is the ordered list of tags an image's CPython X.Y accepts on a Linux machine with
// a given libc, most preferred first, exactly as `packaging.tags.sys_tags()` orders them there:
// `cpXY-cpXY-P`, `cpXY-abi3-P`, `cpXY-none-P`, `cpXW-abi3-P` for older W, then `pyXY`/`pyX`/older
// `-none-P`, `cpXY-none-any`, `pyXY`/`pyX`/older `-none-any`, where P runs over the platforms:
// on glibc G.M, `manylinux_G_M_ARCH` down to `manylinux_2_5` (x86_64, i686) or `manylinux_2_17`
// (others), the legacy `manylinux2014`/`2010`/`1` right after `_2_17`/`_2_12`/`_2_5`, then
// `linux_ARCH` (pip accepts it on Linux); on musl 1.M, `musllinux_1_M_ARCH` down to `_1_0`. A
// musllinux wheel is never accepted on a glibc image, nor a manylinux one on musl.
// `why_incompatible` says in one sentence why a wheel does not fit (for error messages).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resolver/pep440.h"

namespace envpack::wheel {

struct Tag {
    std::string interpreter;  // cp311, py3
    std::string abi;          // cp311, abi3, none
    std::string platform;     // manylinux_2_17_x86_64, linux_x86_64, any

    // `interpreter-abi-platform`; parse takes exactly that (no compressed sets), lower-cases it,
    // and throws a bad-input Error otherwise.
    static Tag parse(std::string_view text);
    std::string to_string() const;
    bool operator==(const Tag&) const = default;
};

struct BuildTag {
    std::uint64_t number = 0;
    std::string rest;
    auto operator<=>(const BuildTag&) const = default;
};

struct WheelFilename {
    std::string name;  // as in the file name (`foo_bar`)
    pep440::Version version;
    std::optional<BuildTag> build;
    std::vector<Tag> tags;  // compressed sets expanded, in file-name order, no duplicates

    // Throws a bad-input Error naming the file and what is wrong with it.
    static WheelFilename parse(std::string_view filename);
    static std::optional<WheelFilename> try_parse(std::string_view filename);
    // The PEP 503 normalised project name.
    std::string normalized_name() const;
};

enum class Libc : std::uint8_t { glibc, musl };

// The Python and machine of the image the wheels go into.
struct Target {
    unsigned python_major = 3;
    unsigned python_minor = 11;
    std::string machine = "x86_64";  // platform_machine: x86_64, aarch64, ppc64le, ...
    Libc libc = Libc::glibc;
    unsigned libc_major = 2;  // glibc 2.M or musl 1.M
    unsigned libc_minor = 17;

    // CPython `python` (the conda solve's), the machine of `conda_platform` (linux-64 ...) and
    // glibc `glibc_version` ("2.31", from the lock's `__glibc` or the base image's label).
    // Throws a bad-input Error for a non-Linux platform or a glibc version that is not `2.M`.
    static Target for_image(const pep440::Version& python, std::string_view conda_platform,
                            std::string_view glibc_version);
};

class TargetTags {
  public:
    explicit TargetTags(const Target& target);

    const Target& target() const { return m_target; }
    // Most preferred first.
    const std::vector<Tag>& tags() const { return m_tags; }
    // The position of `tag` in tags() (lower is better), or nullopt when it is not accepted.
    std::optional<std::size_t> rank(const Tag& tag) const;
    // The best rank among a wheel's tags, or nullopt when the wheel does not fit.
    std::optional<std::size_t> best_rank(const WheelFilename& wheel) const;
    // Why `wheel` does not fit this target, in one sentence ("" when it fits).
    std::string why_incompatible(const WheelFilename& wheel) const;

  private:
    Target m_target;
    std::vector<Tag> m_tags;
    std::unordered_map<std::string, std::size_t> m_rank;  // Tag::to_string() -> index
};

}  // namespace envpack::wheel
