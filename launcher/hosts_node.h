// The host side of the hosts backend (hosts_backend.h): what `envpack node ...` does on each host,
// in that host's own ENVPACK_HOME. The launcher reaches it through the job's transport.
//
//   node blobs-have DIGEST...   prints the digests the host's store already holds, one a line
//   node blobs-receive [--tag NAME --manifest DESCRIPTOR_JSON]
//                               reads a blob stream on stdin into the store, each blob verified by
//                               its digest and renamed into place; tags the image NAME (so the
//                               host's gc keeps it); prints "received N"
//   node inputs-have DIGEST...  prints the digests whose content the host's input cache holds
//   node inputs-receive         reads an input stream on stdin into the input cache
//                               (hosts_inputs.h); prints "received N"
//   node run --run ID --node NAME
//                               reads a NodeSpec (one JSON line) and a tar of the code on stdin;
//                               unpacks the image from the host's store, makes the rootfs, starts
//                               the node container (init: envpack-pause) and, for node 0 of an
//                               MPI job, the exec broker mpirun's agent talks to (it reaches the
//                               other nodes' hosts through the transport), prints "ready"; then
//                               waits until stdin closes (the launcher is done, or gone) or a
//                               signal comes, removes the container and rootfs, and prints
//                               "outputs N" and N bytes: a tar of the node's outputs and logs.
//                               Nothing of the node is left on the host afterwards.
//   node exec --run ID --node NAME --container ID --runtime R --process JSON
//                               becomes `runtime exec` of that process (the OCI process JSON)
//                               into the running node container.
//
// Blob stream: "blob sha256:HEX SIZE\n" then SIZE bytes, repeated, then "end\n".
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/log.h"
#include "registry/image.h"
#include "registry/store.h"

namespace envpack {

// $HOME/node-runs/RUN/NODE: a node's files on its host while the run lives.
std::filesystem::path node_run_dir(const std::filesystem::path& home, std::string_view run_id,
                                   std::string_view node_name);

// The digests in `wanted` that `store` holds.
std::vector<std::string> blobs_present(const Store& store, const std::vector<std::string>& wanted);

// Writes `blobs` (read from `store`) to `fd` as a blob stream. Returns the bytes of blob data.
std::uint64_t write_blob_stream(int fd, const Store& store, const std::vector<Descriptor>& blobs);
// Reads a blob stream from `fd` into `store`. Returns how many blobs it received. Throws Error
// (nothing of the bad blob kept) on a digest mismatch, a truncated stream or a malformed header.
int receive_blob_stream(int fd, const Store& store);

// Every blob an image needs: the manifest, its config and its layers.
std::vector<Descriptor> image_blobs(const Store& store, const Descriptor& manifest);

// Removes the nodes of `home` whose node run died without cleaning up (SIGKILL, host crash):
// their lock is free; their container is destroyed and their directory removed. Returns how
// many. `envpack node run` calls it first.
struct Runtime;
int sweep_dead_nodes(const std::filesystem::path& home, const Runtime& runtime);

// `envpack node run` (see above). Returns the exit code for the process.
int node_run(const std::filesystem::path& home, const std::filesystem::path& helpers_dir,
             std::string_view run_id, std::string_view node_name, Log& log, int in_fd, int out_fd);

// `envpack node exec` (see above): does not return unless it fails (Error).
[[noreturn]] void node_exec(const std::filesystem::path& home, std::string_view run_id,
                            std::string_view node_name, std::string_view container_id,
                            std::string_view runtime, std::string_view process_json);

// Buffered reads of a line or an exact byte count from a file descriptor (the node protocol).
class FdReader {
  public:
    explicit FdReader(int fd) : m_fd(fd) {}
    // A line without its newline; nullopt at end of input (a partial last line included).
    std::optional<std::string> line();
    // Exactly `n` bytes into `sink` (in chunks); false when the input ends first.
    bool read_exact(std::uint64_t n, const std::function<void(std::string_view)>& sink);

  private:
    bool fill();
    int m_fd;
    std::string m_buf;
    size_t m_pos = 0;
};

}  // namespace envpack
