#include "launcher/mpi_flavor.h"

#include "launcher/command_check.h"

namespace envpack {

namespace fs = std::filesystem;

namespace {

std::optional<MpiFlavor> flavor_of_path(std::string_view path) {
    for (std::string_view word : {"openmpi", "orterun", "prterun", "/ompi"}) {
        if (path.find(word) != std::string_view::npos) {
            return MpiFlavor::openmpi;
        }
    }
    for (std::string_view word : {"mpich", "hydra"}) {
        if (path.find(word) != std::string_view::npos) {
            return MpiFlavor::mpich;
        }
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(MpiFlavor flavor) {
    return flavor == MpiFlavor::mpich ? "mpich" : "openmpi";
}

std::optional<MpiFlavor> classify_mpi(const MpiProbe& probe) {
    for (const std::string& launcher : {probe.mpirun, probe.mpiexec}) {
        if (auto f = flavor_of_path(launcher)) {
            return f;
        }
    }
    if (probe.ompi_info) {
        return MpiFlavor::openmpi;
    }
    if (probe.hydra_pmi_proxy) {
        return MpiFlavor::mpich;
    }
    return std::nullopt;
}

std::optional<MpiFlavor> detect_mpi_flavor(const fs::path& rootfs, std::string_view path_var) {
    // The container path a command leads to, symbolic links (Debian's alternatives) followed.
    auto target = [&](std::string_view name) -> std::string {
        std::string found;
        if (check_command(rootfs, name, path_var, "/", &found) != CommandCheck::runnable) {
            return "";
        }
        auto host = resolve_in_rootfs(rootfs, found);
        if (!host) {
            return "";
        }
        return "/" + host->lexically_relative(rootfs).generic_string();
    };
    auto has = [&](std::string_view name) { return !target(name).empty(); };
    MpiProbe probe;
    probe.mpirun = target("mpirun");
    probe.mpiexec = target("mpiexec");
    probe.ompi_info = has("ompi_info") || has("orted") || has("prte");
    probe.hydra_pmi_proxy = has("hydra_pmi_proxy") || has("mpiexec.hydra") || has("mpichversion");
    return classify_mpi(probe);
}

}  // namespace envpack
