#include "builder/unpack.h"

#include <sys/stat.h>

#include <optional>

#include <fmt/format.h>

#include "builder/detail/layer_stream.h"
#include "builder/detail/tar_reader.h"
#include "builder/detail/tree_writer.h"
#include "core/error.h"
#include "core/fs.h"

namespace envpack {

namespace fs = std::filesystem;

UnpackStats unpack_image(const Store& store, const Manifest& manifest, const fs::path& dest,
                         Log& log, const UnpackOptions& options) {
    std::error_code ec;
    if (fs::exists(dest, ec) && (!fs::is_directory(dest, ec) || !fs::is_empty(dest, ec))) {
        throw bad_input(
            fmt::format("unpack: `{}` exists and is not an empty directory", dest.string()),
            "name a new directory");
    }
    make_dirs(dest);
    // Shared with every writer of the store; gc waits for it, so no blob goes away mid-read.
    FileLock no_gc = store.writer_lock();

    std::vector<detail::LayerBlob> blobs;
    std::uint64_t total = 0;
    for (const auto& layer : manifest.layers) {
        blobs.push_back({store.blob_path(layer.digest), layer.digest, layer.size});
        total += static_cast<std::uint64_t>(std::max<std::int64_t>(0, layer.size));
    }
    std::optional<Progress> progress;
    if (!options.progress_label.empty()) {
        progress.emplace(log, options.progress_label, total);
    }
    detail::TreeWriter writer(dest, log);
    {
        detail::LayerStream stream(std::move(blobs), options.max_buffered,
                                   [&progress](std::uint64_t n) {
                                       if (progress) {
                                           progress->add(n);
                                       }
                                   });
        for (const auto& layer : manifest.layers) {
            std::string name = layer.digest.to_string();
            writer.begin_layer(name);
            detail::TarReader tar([&stream](std::size_t max) { return stream.read(max); },
                                  "layer " + name);
            while (auto entry = tar.next()) {
                writer.apply(*entry, [&tar](const std::function<void(std::string_view)>& out) {
                    tar.read_data(out);
                });
            }
            // The rest of the blob (tar padding) and its digest check: the layer is only
            // complete once the stream says so.
            stream.next_layer();
            writer.end_layer();
        }
    }
    writer.finish();
    if (progress) {
        progress->done();
    }
    const auto& s = writer.stats();
    UnpackStats stats;
    stats.layers = manifest.layers.size();
    stats.entries = s.entries;
    stats.files = s.files;
    stats.bytes = s.bytes;
    stats.whiteouts = s.whiteouts;
    stats.skipped = s.skipped;
    return stats;
}

}  // namespace envpack
