// A job's local inputs on `envpack.hosts` (hosts_backend.h): every input the plan mounts
// (`ro_mount`) or copies (`download`) from a path on the launching machine — a folder, a file,
// or a dataset or URL already resolved to a local path — reaches every host that runs a node over
// the job's transport, content-addressed, so that a host holding the same content from an earlier
// run is sent nothing. The launching machine's path is never used on a host.
//
// - On the launching machine `read_input` walks the input (following the path itself when it is
//   a symlink, storing links inside it as links) and digests its deterministic tar (sha256):
//   members `content` (a file) or `content/` and `content/REL` (a folder), sorted by name, uid and
//   gid 0, mtime 0, mode 0755 for folders and executable files, 0644 for other files. A missing
//   path, an unreadable file or folder, a symlink that leaves the input (absolute, or resolving
//   outside it) and a fifo, socket or device are Errors (exit 125) naming the input, raised before
//   any host is contacted.
// - Each host says which digests its cache holds (`envpack node inputs-have`) and receives only the
//   others (`envpack node inputs-receive`, the input stream below), each checked against its digest
//   and unpacked into a temporary folder renamed into place: `$ENVPACK_HOME/inputs/sha256/HEX/
//   content` on that host.
// - The node spec names an input's content `@input/HEX` (node_spec.h): `ro_mount` bind-mounts the
//   host's cached copy read-only, `download` copies it into the node's directory first.
//
// Input stream: "input sha256:HEX SIZE\n" then SIZE bytes (the tar), repeated, then "end\n".
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/fs.h"
#include "launcher/plan.h"

namespace envpack {

struct NodeSpec;

// A local input as the plan uses it: its name (the folder under /mnt/inputs) and its path on the
// launching machine.
struct LocalInput {
    std::string name;
    std::filesystem::path source;
    bool operator==(const LocalInput&) const = default;
};

// The local inputs the plan's containers mount or copy (mounts under /mnt/inputs: a `ro_mount`'s
// source, a `download`'s copy_from), each path once, in order of first use. Pure.
std::vector<LocalInput> plan_local_inputs(const RunPlan& plan);

enum class InputEntryType { file, directory, symlink };

struct InputEntry {
    std::string path;  // relative to the input, '/'-separated; "" is the input itself
    InputEntryType type = InputEntryType::file;
    bool executable = false;  // files: any x bit
    std::uint64_t size = 0;   // files
    std::string link_target;  // symlinks, as stored
    // What the launching machine's stat said, for the digest memo (not part of the tar).
    struct Stat {
        std::int64_t mtime_ns = 0;
        std::int64_t ctime_ns = 0;
        std::uint64_t ino = 0;
        std::uint64_t dev = 0;
        std::uint32_t mode = 0;
    } stat;
};

// An input read on the launching machine.
struct InputTree {
    LocalInput input;
    std::filesystem::path root;       // the source with every symlink resolved
    std::vector<InputEntry> entries;  // sorted by path: the input itself first, parents first
    Digest digest;                    // sha256 of the tar write_input_tar writes
    std::uint64_t tar_bytes = 0;
};

// Walks and digests `input` (its files are read once). Throws Error (exit 125) naming the input
// for a missing path, an unreadable file or folder, a symlink leaving the input, or a special file.
//
// With `digest_memo` (the launching machine's `$ENVPACK_HOME/inputs/digests`), an input whose
// walk gives the same stat fingerprint as an earlier one (every entry's path, kind, size, mode,
// link target, mtime, ctime, inode and device: a write to any file changes its ctime) takes the
// digest remembered then, and its files are not read: a large dataset is read once per change,
// not once per run. Walking and its errors are the same either way.
InputTree read_input(const LocalInput& input, const std::filesystem::path& digest_memo = {});

// Writes the input's tar (the one `tree.digest` names) to `out`, reading its files again. Returns
// the bytes written. Throws Error naming the input when a file cannot be read or no longer has the
// size it had (the receiver's digest check catches a change of the same size).
std::uint64_t write_input_tar(const InputTree& tree, Sink& out);

// $HOME/inputs: a host's cache of received inputs.
std::filesystem::path input_cache_dir(const std::filesystem::path& home);
// Where the cache keeps the content of `digest` (a file or a folder named `content`).
std::filesystem::path input_content_path(const std::filesystem::path& cache_dir,
                                         const Digest& digest);

// The digests in `wanted` whose content `cache_dir` holds (`envpack node inputs-have`).
std::vector<std::string> inputs_present(const std::filesystem::path& cache_dir,
                                        const std::vector<std::string>& wanted);

// Writes `inputs` to `fd` as an input stream. Returns the tar bytes written.
std::uint64_t write_input_stream(int fd, const std::vector<const InputTree*>& inputs);
// Reads an input stream from `fd` into `cache_dir`: each tar is checked against its digest, then
// unpacked (only files, folders and symlinks inside the input; nothing through a symlink) into a
// temporary folder renamed into place (content another receiver placed first is kept). Returns how
// many inputs it received. Throws Error on a digest mismatch, an unsafe member, a malformed or
// truncated stream; nothing of the bad input is kept.
int receive_input_stream(int fd, const std::filesystem::path& cache_dir);

// On a host before its node starts: every `@input/HEX` the spec names is in `cache_dir`. Throws
// Error (exit 125) naming the input otherwise.
void check_node_inputs(const NodeSpec& spec, const std::filesystem::path& cache_dir);

}  // namespace envpack
