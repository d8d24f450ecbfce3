#include "registry/export.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/compress.h"
#include "core/error.h"
#include "core/tar_writer.h"
#include "registry/reference.h"

namespace envpack {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void add_file(Sink& out, const std::string& name, std::string_view data) {
    tar::TarHeader h;
    h.name = name;
    h.size = data.size();
    tar::write_tar_header(out, h);
    out.write(data);
    tar::write_tar_padding(out, data.size());
}

void add_dir(Sink& out, const std::string& name) {
    tar::TarHeader h;
    h.name = name + "/";
    h.typeflag = '5';
    h.mode = 0755;
    tar::write_tar_header(out, h);
}

// Streams a verified blob into the tar under `name`.
void add_blob(Sink& out, const Store& store, const Descriptor& d, const std::string& name) {
    store.verify_blob(d.digest);
    tar::TarHeader h;
    h.name = name;
    h.size = static_cast<std::uint64_t>(fs::file_size(store.blob_path(d.digest)));
    tar::write_tar_header(out, h);
    decompress_file(Compression::none, store.blob_path(d.digest), out);
    tar::write_tar_padding(out, h.size);
}

}  // namespace

void export_image(const Store& store, const std::string& name, const fs::path& out_path,
                  ExportFormat format) {
    Descriptor md = store.resolve_or_throw(name);
    Manifest manifest = store.read_manifest(md);
    ImageConfig config = store.read_config(manifest);
    AtomicFile file(out_path, Durability::fsync);
    if (format == ExportFormat::oci) {
        add_file(file, "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
        Descriptor entry = md;
        entry.annotations = {{annotation::k_ref_name, name}};
        json index = {{"schemaVersion", 2},
                      {"mediaType", media_type::k_oci_index},
                      {"manifests", json::array({entry.to_json()})}};
        add_file(file, "index.json", index.dump());
        add_dir(file, "blobs");
        add_dir(file, "blobs/sha256");
        add_file(file, "blobs/sha256/" + md.digest.hex(), store.read_blob(md.digest));
        add_file(file, "blobs/sha256/" + manifest.config.digest.hex(),
                 store.read_blob(manifest.config.digest));
        for (const auto& l : manifest.layers) {
            add_blob(file, store, l, "blobs/sha256/" + l.digest.hex());
        }
    } else {
        if (manifest.layers.size() != config.diff_ids.size()) {
            throw Error(fmt::format("image `{}`: {} layers but {} diff_ids in its config", name,
                                    manifest.layers.size(), config.diff_ids.size()));
        }
        // docker load wants repository:tag; a digest-only name gets no tag.
        std::string repo_tag;
        if (auto ref = ImageRef::try_parse(name); ref && !ref->tag().empty()) {
            repo_tag = (ref->domain().empty() ? ref->path() : ref->domain() + "/" + ref->path()) +
                       ":" + ref->tag();
        }
        std::string config_name = manifest.config.digest.hex() + ".json";
        add_file(file, config_name, store.read_blob(manifest.config.digest));
        json layers = json::array();
        for (size_t i = 0; i < manifest.layers.size(); ++i) {
            const auto& l = manifest.layers[i];
            std::string dir = config.diff_ids[i].hex();
            add_dir(file, dir);
            // A tar header needs the size up front: decompress to a temp file first (verified
            // against the diff_id on the way).
            store.verify_blob(l.digest);
            TempDir tmp("export-", store.root().parent_path().empty() ? fs::path("/tmp")
                                                                      : store.root().parent_path());
            fs::path plain = tmp.path() / "layer.tar";
            {
                AtomicFile pf(plain, Durability::none);
                HashingSink hs(&pf);
                std::string head = read_file_head(store.blob_path(l.digest), 4);
                decompress_file(sniff_compression(head), store.blob_path(l.digest), hs);
                if (hs.finish() != config.diff_ids[i]) {
                    throw Error(
                        fmt::format("image `{}`: layer {} does not decompress to its diff_id {}",
                                    name, l.digest.to_string(), config.diff_ids[i].to_string()));
                }
                pf.commit();
            }
            tar::TarHeader h;
            h.name = dir + "/layer.tar";
            h.size = static_cast<std::uint64_t>(fs::file_size(plain));
            tar::write_tar_header(file, h);
            decompress_file(Compression::none, plain, file);
            tar::write_tar_padding(file, h.size);
            layers.push_back(dir + "/layer.tar");
        }
        json entry = {{"Config", config_name}, {"Layers", layers}, {"RepoTags", json::array()}};
        if (!repo_tag.empty()) {
            entry["RepoTags"].push_back(repo_tag);
        }
        add_file(file, "manifest.json", json::array({entry}).dump());
    }
    tar::write_tar_end(file);
    file.commit();
}

}  // namespace envpack
