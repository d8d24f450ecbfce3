// envpack snapshot DIR [--list] [-o FILE.tar] [--json] [--max-bytes N] [--max-files N]
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "builder/layer.h"
#include "builder/snapshot.h"
#include "cli/args.h"
#include "cli/context.h"
#include "core/compress.h"
#include "core/error.h"
#include "core/fs.h"

namespace envpack::cli {
namespace {

// `-o` picks its compression from the name: .gz/.tgz gzip, .zst zstd, anything else a plain tar.
Compression compression_for(const std::string& out) {
    if (out.ends_with(".gz") || out.ends_with(".tgz")) {
        return Compression::gzip;
    }
    if (out.ends_with(".zst")) {
        return Compression::zstd;
    }
    return Compression::none;
}

void write_stdout(const std::string& s) {
    if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size() || std::fflush(stdout) != 0) {
        throw Error("snapshot: cannot write to standard output");
    }
}

}  // namespace

int cmd_snapshot(Context& ctx, const std::vector<std::string>& argv) {
    Args args("snapshot", argv,
              {{"--list", "", false},
               {"--output", "-o", true},
               {"--json", "", false},
               {"--max-bytes", "", true},
               {"--max-files", "", true}});
    const std::string& dir = args.positional(0, "DIR");
    args.expect_at_most(1);
    SnapshotOptions options;
    if (auto v = args.uint_value("--max-bytes")) {
        options.max_bytes = *v;
    }
    if (auto v = args.uint_value("--max-files")) {
        options.max_files = *v;
    }
    auto output = args.value("--output");
    bool json = args.flag("--json");

    if (args.flag("--list")) {
        if (output || json) {
            throw bad_input("snapshot: --list cannot be combined with -o or --json",
                            "run `envpack snapshot DIR --list` on its own");
        }
        // The listing is how users find what to exclude, so it does not stop at the limits.
        std::string out;
        list_snapshot_paths(dir, ctx.log, options, [&](std::string_view path) {
            out += path;
            out += '\n';
            if (out.size() >= (1 << 16)) {
                write_stdout(out);
                out.clear();
            }
        });
        write_stdout(out);
        return 0;
    }

    Snapshot snapshot;
    std::optional<LayerResult> layer;
    if (output) {
        LayerOptions lo;
        lo.compression = compression_for(*output);
        lo.source_date_epoch = source_date_epoch_from_env();
        // Like tar, no fsync: the file is renamed into place complete, but not forced to disk.
        AtomicFile file(*output, Durability::none);
        layer = make_snapshot_layer(dir, ctx.log, options, lo, file, snapshot);
        file.commit();
    } else {
        snapshot = make_snapshot(dir, ctx.log, options);
    }
    if (json) {
        nlohmann::json largest = nlohmann::json::array();
        for (const auto* e : largest_files(snapshot.listing, 10)) {
            largest.push_back({{"path", e->path}, {"size", e->size}});
        }
        nlohmann::json j = {{"directory", dir},
                            {"digest", snapshot.digest.to_string()},
                            {"files", snapshot.listing.files},
                            {"bytes", snapshot.listing.bytes},
                            {"largest", largest}};
        if (layer) {
            j["layer"] = {{"path", *output},
                          {"digest", layer->digest.to_string()},
                          {"diff_id", layer->diff_id.to_string()},
                          {"size", layer->size},
                          {"uncompressed_size", layer->uncompressed_size},
                          {"mediaType", layer->media_type}};
        }
        // Names that are not UTF-8 cannot be JSON strings: their bad bytes show as U+FFFD.
        write_stdout(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
        return 0;
    }
    std::string out = fmt::format("digest: {}\nfiles: {}\nbytes: {}\n", snapshot.digest.to_string(),
                                  snapshot.listing.files, snapshot.listing.bytes);
    if (layer) {
        out += fmt::format("layer: {} {} ({} bytes)\n", *output, layer->digest.to_string(),
                           layer->size);
    }
    write_stdout(out);
    return 0;
}

}  // namespace envpack::cli
