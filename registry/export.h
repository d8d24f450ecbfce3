// Writes an image from the local store as a single tar file:
// - `oci`: an OCI image layout (oci-layout, index.json with the ref name, blobs/sha256/...), which
//   `skopeo copy oci-archive:FILE ...` and `podman load` read;
// - `docker`: what `docker load` reads (manifest.json with Config/RepoTags/Layers, the config as
//   `<hex>.json`, each layer decompressed to `<diff_id hex>/layer.tar`).
// The file is written to a temp name and renamed when complete.
#pragma once

#include <filesystem>
#include <string>

#include "registry/store.h"

namespace envpack {

enum class ExportFormat { oci, docker };

void export_image(const Store& store, const std::string& name, const std::filesystem::path& out,
                  ExportFormat format);

}  // namespace envpack
