// Conda virtual packages (CEP 30) describing the *target image*, never the build host:
// `__unix`, `__linux`, `__glibc`, `__archspec` and, when asked for, `__cuda`.
//
// Defaults for linux-* targets: `__unix 0`, `__linux 4.18` (the oldest kernel the image is
// promised to run on, as pixi assumes), `__glibc 2.36` (Debian 12, envpack's default base),
// `__archspec 1` with the build string set to the target's micro-architecture family
// (`x86_64`, `aarch64`, `ppc64le`). `__cuda` is absent unless given (`--virtual __cuda=12.4`),
// because the GPU driver belongs to the machine that runs the image. Overrides replace a package
// (`NAME=VERSION` or `NAME=VERSION=BUILD`) and `NAME=` removes it. No host detection happens here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "resolver/package_record.h"

namespace envpack {

class VirtualPackages {
  public:
    VirtualPackages() = default;  // none
    // The defaults described above for `platform` (e.g. "linux-64"); other platforms get none
    // but `__unix` for osx-*.
    static VirtualPackages for_platform(std::string_view platform);

    // Applies one `NAME=VERSION[=BUILD]` or `NAME=` override; throws a bad-input Error when it is
    // malformed or NAME does not start with `__`.
    void apply_override(std::string_view assignment);
    void set(std::string name, std::string version, std::string build = "0");
    void remove(std::string_view name);

    const std::vector<PackageRecord>& records() const { return m_records; }

  private:
    std::vector<PackageRecord> m_records;
    std::string m_platform;
};

}  // namespace envpack
