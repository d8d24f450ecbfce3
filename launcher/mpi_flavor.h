// Which MPI an image brings, decided before the plan (DESIGN.md "Launch model": OpenMPI 4 or 5
// through plm_rsh_agent, or MPICH through Hydra's -launcher-exec, whichever the image has).
// classify_mpi is pure; detect_mpi_flavor looks in an unpacked root filesystem.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace envpack {

enum class MpiFlavor { openmpi, mpich };

std::string_view to_string(MpiFlavor flavor);

// What a root filesystem shows about its MPI: where `mpirun` and `mpiexec` lead (the container
// path after symbolic links, "" when absent) and which tell-tale programs are there.
struct MpiProbe {
    std::string mpirun;  // e.g. /usr/bin/orterun, /usr/bin/mpiexec.hydra
    std::string mpiexec;
    bool ompi_info = false;        // OpenMPI: ompi_info, orted or prte
    bool hydra_pmi_proxy = false;  // MPICH: hydra_pmi_proxy, mpiexec.hydra or mpichversion
};

// The flavor the launcher must speak: the one `mpirun` (else `mpiexec`) leads to when its path
// names it (openmpi, orterun, prterun / mpich, hydra), else the one whose programs are there,
// OpenMPI first. nullopt when the image has no MPI at all. Pure.
std::optional<MpiFlavor> classify_mpi(const MpiProbe& probe);

// Probes `rootfs` (container paths resolved inside it, command_check.h) with `path_var` as the
// PATH (empty: the default PATH) and classifies it.
std::optional<MpiFlavor> detect_mpi_flavor(const std::filesystem::path& rootfs,
                                           std::string_view path_var);

}  // namespace envpack
