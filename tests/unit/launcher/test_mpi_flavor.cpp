#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "core/fs.h"
#include "launcher/mpi_flavor.h"

using namespace envpack;
namespace fs = std::filesystem;

TEST_CASE("classify_mpi: where mpirun leads, else the programs the image has") {
    CHECK(classify_mpi({"/usr/bin/orterun", "/usr/bin/orterun", false, false}) ==
          MpiFlavor::openmpi);
    CHECK(classify_mpi({"/usr/bin/mpiexec.hydra", "/usr/bin/mpiexec.hydra", false, false}) ==
          MpiFlavor::mpich);
    CHECK(classify_mpi({"/opt/openmpi-5/bin/prterun", "", false, false}) == MpiFlavor::openmpi);
    CHECK(classify_mpi({"", "/usr/bin/mpiexec.mpich", false, false}) == MpiFlavor::mpich);
    // mpirun decides when both are installed and it leads to one of them.
    CHECK(classify_mpi({"/usr/bin/orterun", "/usr/bin/mpiexec.hydra", true, true}) ==
          MpiFlavor::openmpi);
    CHECK(classify_mpi({"/usr/bin/mpiexec.hydra", "/usr/bin/orterun", true, true}) ==
          MpiFlavor::mpich);
    // A launcher path that says nothing: the tell-tale programs, OpenMPI first.
    CHECK(classify_mpi({"/usr/local/bin/mpirun", "", false, true}) == MpiFlavor::mpich);
    CHECK(classify_mpi({"/usr/local/bin/mpirun", "", true, true}) == MpiFlavor::openmpi);
    CHECK(classify_mpi({"", "", false, false}) == std::nullopt);
    CHECK(to_string(MpiFlavor::mpich) == "mpich");
    CHECK(to_string(MpiFlavor::openmpi) == "openmpi");
}

namespace {

void executable(const fs::path& p) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "#!/bin/sh\n";
    fs::permissions(p, fs::perms(0755));
}

}  // namespace

TEST_CASE("detect_mpi_flavor: Debian's alternatives in an unpacked rootfs") {
    TempDir mpich("envpack-mpiflavor-");
    const auto& m = mpich.path();
    fs::create_directories(m / "usr/bin");
    fs::create_directories(m / "etc/alternatives");
    fs::create_directory_symlink("usr/bin", m / "bin");
    executable(m / "usr/bin/mpiexec.hydra");
    executable(m / "usr/bin/hydra_pmi_proxy");
    fs::create_symlink("mpiexec.hydra", m / "usr/bin/mpiexec.mpich");
    fs::create_symlink("/usr/bin/mpiexec.mpich", m / "etc/alternatives/mpiexec");
    fs::create_symlink("/etc/alternatives/mpiexec", m / "usr/bin/mpiexec");
    fs::create_symlink("/usr/bin/mpiexec.mpich", m / "etc/alternatives/mpirun");
    fs::create_symlink("/etc/alternatives/mpirun", m / "usr/bin/mpirun");
    CHECK(detect_mpi_flavor(m, "/usr/local/bin:/usr/bin:/bin") == MpiFlavor::mpich);
    CHECK(detect_mpi_flavor(m, "") == MpiFlavor::mpich);

    TempDir openmpi("envpack-mpiflavor-");
    const auto& o = openmpi.path();
    executable(o / "usr/bin/orterun");
    executable(o / "usr/bin/ompi_info");
    fs::create_symlink("orterun", o / "usr/bin/mpirun.openmpi");
    fs::create_directories(o / "etc/alternatives");
    fs::create_symlink("/usr/bin/mpirun.openmpi", o / "etc/alternatives/mpirun");
    fs::create_symlink("/etc/alternatives/mpirun", o / "usr/bin/mpirun");
    CHECK(detect_mpi_flavor(o, "/usr/bin") == MpiFlavor::openmpi);
    // Not on the PATH given: the launcher is not found, the tell-tale programs neither.
    CHECK(detect_mpi_flavor(o, "/opt/bin") == std::nullopt);

    TempDir none("envpack-mpiflavor-");
    executable(none.path() / "bin/sh");
    CHECK(detect_mpi_flavor(none.path(), "/bin") == std::nullopt);
}
