#include "builder/base_build.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/base_bootstrap.h"
#include "builder/base_layers.h"
#include "builder/base_lock.h"
#include "builder/cuda_components.h"
#include "builder/image_build.h"
#include "builder/import.h"
#include "builder/layer.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/hasher.h"
#include "registry/reference.h"

namespace envpack {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_default_path =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct Paths {
    fs::path base;  // $ENVPACK_HOME/base
    fs::path debs() const { return base / "debs"; }
    fs::path layers() const { return base / "layers"; }
    fs::path builds() const { return base / "builds"; }
    fs::path tmp() const { return base / "tmp"; }
};

// ---- step 2: the lock -------------------------------------------------------------------------

bool lock_is_fresh(const BaseLock& lock, const BaseRecipe& recipe) {
    if (lock.debian_key != recipe.debian_key().to_string() || lock.suite != recipe.debian.suite ||
        lock.architecture != recipe.debian.architecture) {
        return false;
    }
    for (const auto& p : recipe.cuda_debian_packages()) {
        if (lock.find(p) == nullptr) {
            return false;
        }
    }
    return true;
}

BaseLock lock_from_rootfs(const BaseRecipe& recipe, const fs::path& rootfs, const fs::path& debs) {
    BaseLock lock;
    lock.debian_key = recipe.debian_key().to_string();
    lock.suite = recipe.debian.suite;
    lock.architecture = recipe.debian.architecture;
    auto installed = parse_dpkg_status(read_file(rootfs / "var/lib/dpkg/status"));
    std::set<std::string> automatic;
    std::error_code ec;
    if (fs::exists(rootfs / "var/lib/apt/extended_states", ec)) {
        automatic = parse_extended_states(read_file(rootfs / "var/lib/apt/extended_states"));
    }
    for (const auto& p : installed) {
        LockedDeb d;
        d.name = p.name;
        d.version = p.version;
        d.architecture = p.architecture;
        d.filename = deb_filename(p);
        fs::path f = debs / d.filename;
        if (!fs::exists(f, ec)) {
            throw Error(fmt::format("base build: the .deb of {} {} was not kept (`{}`)", p.name,
                                    p.version, f.string()),
                        "report this: mmdebstrap's customize hook should have moved it there");
        }
        d.size = fs::file_size(f);
        d.sha256 = Digest::of_file(f.string()).hex();
        d.automatic = automatic.contains(p.name);
        lock.packages.push_back(std::move(d));
    }
    return lock;
}

// ---- step 4: the Debian tree ------------------------------------------------------------------

// Makes the tree the same however it was installed (from the archive or the local repository,
// in any order, on any host).
void normalise_rootfs(const fs::path& root, const BaseRecipe& recipe, const BaseLock& lock) {
    std::string sources;
    for (const auto& m : recipe.debian.mirrors) {
        std::string comps;
        for (const auto& c : recipe.debian.components) {
            comps += " " + c;
        }
        sources += fmt::format("deb {} {}{}\n", m, recipe.debian.suite, comps);
    }
    auto rewrite = [&](const fs::path& p, std::string_view text) {
        std::error_code ec;
        fs::remove(p, ec);
        AtomicFile f(p, Durability::none, 0644);
        f.write(text);
        f.commit();
    };
    std::error_code ec;
    fs::remove(root / "etc/apt/sources.list.d/debian.sources", ec);
    rewrite(root / "etc/apt/sources.list", sources);
    rewrite(root / "var/lib/apt/extended_states", render_extended_states(lock));
    for (const char* host_file : {"etc/hostname", "etc/resolv.conf"}) {
        fs::remove(root / host_file, ec);
    }
    for (const char* dir : {"var/cache/apt/archives/partial", "var/lib/apt/lists/partial"}) {
        if (fs::is_directory(root / dir, ec)) {
            for (const auto& e : fs::directory_iterator(root / dir)) {
                fs::remove_all(e.path(), ec);
            }
        }
    }
    for (const char* f :
         {"var/cache/apt/archives/lock", "var/lib/apt/lists/lock", "var/lib/dpkg/lock",
          "var/lib/dpkg/lock-frontend", "var/cache/debconf/config.dat-old",
          "var/cache/debconf/templates.dat-old", "var/lib/dpkg/status-old",
          "var/lib/dpkg/diversions-old", "var/log/bootstrap.log"}) {
        fs::remove(root / f, ec);
    }
}

DpkgOwnership read_ownership(const fs::path& root) {
    DpkgOwnership out;
    for (const auto& e : fs::directory_iterator(root / "var/lib/dpkg/info")) {
        std::string n = e.path().filename().string();
        if (!n.ends_with(".list")) {
            continue;
        }
        std::string pkg = n.substr(0, n.size() - 5);
        if (auto colon = pkg.find(':'); colon != std::string::npos) {
            pkg = pkg.substr(0, colon);
        }
        out[pkg] = parse_dpkg_list(read_file(e.path()));
    }
    return out;
}

// ---- layer writing and caches -----------------------------------------------------------------

nlohmann::json layer_json(const BaseLayerInfo& l) {
    return {{"name", l.name},
            {"digest", l.descriptor.digest.to_string()},
            {"diff_id", l.diff_id.to_string()},
            {"size", l.descriptor.size},
            {"mediaType", l.descriptor.media_type}};
}

std::optional<std::vector<BaseLayerInfo>> cached_layers(const Store& store, const fs::path& file) {
    std::error_code ec;
    if (!fs::exists(file, ec)) {
        return std::nullopt;
    }
    auto j = nlohmann::json::parse(read_file(file), nullptr, false);
    if (!j.is_array()) {
        return std::nullopt;
    }
    std::vector<BaseLayerInfo> out;
    for (const auto& l : j) {
        BaseLayerInfo info;
        info.name = l.value("name", "");
        auto d = Digest::parse(l.value("digest", ""));
        auto diff = Digest::parse(l.value("diff_id", ""));
        if (!d || !diff || !store.has_blob(*d)) {
            return std::nullopt;
        }
        info.descriptor.digest = *d;
        info.descriptor.size = l.value("size", std::int64_t{0});
        info.descriptor.media_type = l.value("mediaType", "");
        info.diff_id = *diff;
        info.reused = true;
        out.push_back(std::move(info));
    }
    return out;
}

void record_layers(const fs::path& file, const std::vector<BaseLayerInfo>& layers) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& l : layers) {
        j.push_back(layer_json(l));
    }
    make_dirs(file.parent_path());
    write_file_atomic(file, j.dump(), Durability::none);
}

BaseLayerInfo write_one_layer(Store& store, std::string name, std::vector<LayerEntry> entries,
                              Owners owners, const BaseBuildOptions& o, Log& log) {
    LayerOptions lo;
    lo.compression = o.compression;
    lo.threads = o.threads;
    lo.source_date_epoch = o.source_date_epoch;
    lo.owners = owners;
    LayerResult r =
        write_tree_layer(store, std::move(entries), lo, fmt::format("layer {}", name), log);
    log.infof("base build: layer {} {} ({} files, {} bytes)", name, r.digest.to_string(), r.files,
              r.size);
    BaseLayerInfo info;
    info.name = std::move(name);
    info.descriptor.media_type = r.media_type;
    info.descriptor.digest = r.digest;
    info.descriptor.size = static_cast<std::int64_t>(r.size);
    info.diff_id = r.diff_id;
    return info;
}

Hasher options_hasher(std::string_view schema, const BaseBuildOptions& o) {
    Hasher h(schema);
    h.add("compressor", compressor_id(o.compression));
    h.add("source_date_epoch", o.source_date_epoch.value_or(-1));
    return h;
}

// ---- step 5: CUDA -----------------------------------------------------------------------------

struct CudaLayerPlan {
    std::string name;
    std::vector<CudaFile> files;
    std::string prefix;  // where the files go in the image
    bool link = false;   // add usr/local/cuda -> cuda-X.Y
};

std::vector<CudaLayerPlan> plan_cuda_layers(const CudaSpec& spec, const CudaToolkit& tk) {
    std::string dir = "usr/local/cuda-" + cuda_major_minor(tk.version.version);
    std::vector<CudaLayerPlan> out;
    for (const auto& n : cuda_component_closure(spec.components)) {
        const CudaComponent* c = find_cuda_component(n);
        CudaLayerPlan p;
        p.name = n;
        p.files = cuda_component_files(
            tk, *c, spec.static_libraries ? StaticLibraries::yes : StaticLibraries::no);
        p.prefix = dir + "/lib64/";
        p.link = n == "cudart";
        out.push_back(std::move(p));
    }
    if (spec.headers) {
        out.push_back({"cuda-headers", cuda_tree_files(tk, "include"), dir + "/", false});
    }
    if (spec.tools) {
        auto files = cuda_tree_files(tk, "bin");
        auto nvvm = cuda_tree_files(tk, "nvvm");
        files.insert(files.end(), nvvm.begin(), nvvm.end());
        out.push_back({"cuda-tools", std::move(files), dir + "/", false});
    }
    return out;
}

Digest cuda_layer_key(const CudaLayerPlan& p, const BaseBuildOptions& o) {
    Hasher h = options_hasher("envpack.base.cuda-layer.v1", o);
    h.add("name", p.name);
    h.add("prefix", p.prefix);
    h.add("link", p.link);
    for (const auto& f : p.files) {
        h.add("file", f.name);
        h.add("size", static_cast<std::int64_t>(f.size));
        h.add("mtime", f.mtime);
        h.add("mode", static_cast<std::int64_t>(f.mode));
        h.add("target", f.link_target);
    }
    return h.finish();
}

std::vector<LayerEntry> cuda_entries(const CudaLayerPlan& p) {
    std::vector<LayerEntry> out;
    for (const auto& f : p.files) {
        LayerEntry e;
        e.path = p.prefix + f.name;
        e.mode = f.mode;
        e.mtime = f.mtime;
        if (f.symlink) {
            e.type = EntryType::symlink;
            e.link_target = f.link_target;
        } else {
            e.type = EntryType::file;
            e.source = f.source;
            e.size = f.size;
        }
        out.push_back(std::move(e));
    }
    if (p.link) {
        LayerEntry l;
        l.path = "usr/local/cuda";
        l.type = EntryType::symlink;
        std::string target = p.prefix.substr(std::string("usr/local/").size());
        l.link_target = target.substr(0, target.find('/'));
        l.mode = 0777;
        out.push_back(std::move(l));
    }
    return out;
}

// ---- step 6: config ---------------------------------------------------------------------------

struct ConfigInputs {
    const BaseRecipe* recipe;
    const BaseLock* lock;
    const CudaToolkit* toolkit;  // null without CUDA
    std::vector<BaseLayerInfo> layers;
    std::string recipe_file;
    std::string build_key;
};

std::map<std::string, std::string> virtual_packages(const BaseLock& lock, const CudaToolkit* tk) {
    std::map<std::string, std::string> v;
    if (const LockedDeb* libc = lock.find("libc6")) {
        v["__glibc"] = debian_upstream_version(libc->version);
    }
    v["__unix"] = "0";
    if (tk != nullptr) {
        v["__cuda"] = cuda_major_minor(tk->version.version);
    }
    return v;
}

ImageConfig make_config(const ConfigInputs& in, std::int64_t created) {
    ImageConfig config;
    config.created = rfc3339(created);
    std::map<std::string, std::string> env = {{"PATH", k_default_path}, {"LANG", "C.UTF-8"}};
    std::map<std::string, std::string> labels;
    if (in.toolkit != nullptr) {
        const CudaToolkit& tk = *in.toolkit;
        std::string mm = cuda_major_minor(tk.version.version);
        env["PATH"] = std::string("/usr/local/nvidia/bin:/usr/local/cuda/bin:") + k_default_path;
        env["LD_LIBRARY_PATH"] =
            "/usr/local/cuda/lib64:/usr/local/nvidia/lib:/usr/local/nvidia/lib64";
        env["CUDA_VERSION"] = tk.version.version;
        env["NVIDIA_REQUIRE_CUDA"] = "cuda>=" + mm;
        env["NVIDIA_VISIBLE_DEVICES"] = "all";
        env["NVIDIA_DRIVER_CAPABILITIES"] = "compute,utility";
        labels["com.nvidia.cuda.version"] = tk.version.version;
        auto closure = cuda_component_closure(in.recipe->cuda->components);
        auto has = [&](std::string_view n) {
            return std::find(closure.begin(), closure.end(), n) != closure.end() &&
                   tk.component_versions.contains(std::string(n));
        };
        if (has("cudnn")) {
            env["NV_CUDNN_VERSION"] = tk.component_versions.at("cudnn");
            labels["com.nvidia.cudnn.version"] = tk.component_versions.at("cudnn");
        }
        if (has("nccl")) {
            env["NCCL_VERSION"] = tk.component_versions.at("nccl");
        }
        if (has("cublas")) {
            env["NV_LIBCUBLAS_VERSION"] = tk.component_versions.at("cublas");
        }
    }
    for (const auto& [k, v] : in.recipe->env) {
        env[k] = v;
    }
    for (const auto& [k, v] : env) {
        config.env.push_back(k + "=" + v);
    }
    config.cmd = {"bash"};
    nlohmann::json vp = nlohmann::json::object();
    for (const auto& [k, v] : virtual_packages(*in.lock, in.toolkit)) {
        vp[k] = v;
    }
    labels[k_label_virtual_packages] = vp.dump();
    nlohmann::json names = nlohmann::json::array();
    for (const auto& l : in.layers) {
        names.push_back(l.name);
    }
    labels[k_label_base_layers] = names.dump();
    labels[k_label_base_lock_digest] = in.lock->content_digest().to_string();
    std::string pk;
    for (const auto& p : in.lock->packages) {
        pk += fmt::format("{}{}={}", pk.empty() ? "" : ",", p.name, p.version);
    }
    labels[k_label_base_packages] = pk;
    labels[k_label_base_recipe] = in.recipe_file;
    labels[k_label_build_key] = in.build_key;
    for (const auto& [k, v] : in.recipe->labels) {
        labels[k] = v;
    }
    config.labels = std::move(labels);
    for (const auto& l : in.layers) {
        config.diff_ids.push_back(l.diff_id);
        config.history.push_back(nlohmann::json{{"created", config.created},
                                                {"created_by", "envpack base build: " + l.name}});
    }
    return config;
}

}  // namespace

fs::path default_base_lock_path(const fs::path& recipe) {
    fs::path p = recipe;
    if (p.extension() == ".yaml" || p.extension() == ".yml") {
        p.replace_extension(".lock");
    } else {
        p += ".lock";
    }
    return p;
}

std::string default_base_image_name(const BaseRecipe& recipe, const fs::path& file) {
    if (!recipe.name.empty()) {
        return ImageRef::parse(recipe.name).store_name();
    }
    return ImageRef::parse("envpack/" + file.stem().string()).store_name();
}

BaseBuildResult build_base_image(Store& store, const BaseBuildOptions& o, Log& log) {
    // 1. recipe and toolkit
    BaseRecipe recipe = BaseRecipe::load(o.recipe);
    std::optional<CudaToolkit> toolkit;
    std::vector<CudaLayerPlan> cuda_plans;
    if (recipe.cuda) {
        toolkit = probe_cuda_toolkit(recipe.cuda->toolkit);
        cuda_plans = plan_cuda_layers(*recipe.cuda, *toolkit);
    }
    BaseBuildResult result;
    result.name = o.tag.empty() ? default_base_image_name(recipe, o.recipe) : o.tag;
    result.lock_file = o.lock_file.empty() ? default_base_lock_path(o.recipe) : o.lock_file;
    Paths paths{o.home / "base"};
    make_dirs(paths.tmp());
    FileLock writer = store.writer_lock();

    // 2. lock
    std::optional<BaseLock> lock;
    std::error_code ec;
    if (o.lock_mode == BaseLockMode::use && fs::exists(result.lock_file, ec)) {
        BaseLock l = BaseLock::parse(read_file(result.lock_file), result.lock_file.string());
        if (lock_is_fresh(l, recipe)) {
            lock = std::move(l);
        } else {
            log.infof("base build: `{}` was made for another recipe; resolving again",
                      result.lock_file.string());
        }
    }
    std::optional<TempDir> work;
    fs::path rootfs;
    auto bootstrap = [&](BootstrapRequest req) {
        work.emplace("rootfs-", paths.tmp());
        rootfs = work->path() / "root";
        req.debian = recipe.debian;
        req.extra = recipe.cuda_debian_packages();
        req.target = rootfs;
        req.debs_out = paths.debs();
        req.program = o.mmdebstrap;
        make_dirs(paths.debs());
        run_bootstrap(req, o.source_date_epoch, log);
        result.bootstrapped = true;
    };
    if (!lock) {
        bootstrap({});
        lock = lock_from_rootfs(recipe, rootfs, paths.debs());
        make_dirs(result.lock_file.parent_path().empty() ? fs::path(".")
                                                         : result.lock_file.parent_path());
        write_file_atomic(result.lock_file, lock->to_json());
        result.lock_written = true;
    }

    // 3. build cache
    Hasher bk = options_hasher("envpack.base.build.v2", o);
    bk.add("lock", lock->content_digest());
    BaseRecipe keyed = recipe;
    keyed.name.clear();
    keyed.description.clear();
    if (keyed.cuda) {
        keyed.cuda->toolkit.clear();
    }
    bk.add("recipe", keyed.to_yaml());
    for (const auto& p : cuda_plans) {
        bk.add("cuda-layer", cuda_layer_key(p, o));
    }
    if (toolkit) {
        bk.add("cuda-version", toolkit->version.version);
    }
    result.build_key = bk.finish().to_string();
    fs::path build_record = paths.builds() / Digest::parse(result.build_key)->hex();
    if (fs::exists(build_record, ec)) {
        if (auto d = Digest::parse(read_file(build_record))) {
            if (store.has_blob(*d)) {
                Descriptor desc;
                desc.media_type = media_type::k_oci_manifest;
                desc.digest = *d;
                desc.size = static_cast<std::int64_t>(fs::file_size(store.blob_path(*d)));
                desc.platform = Platform{};
                // Report the cached image's layers and virtual packages as a build would.
                Manifest m = store.read_manifest(desc);
                ImageConfig c = store.read_config(m);
                auto names = nlohmann::json::parse(c.labels[k_label_base_layers], nullptr, false);
                for (size_t i = 0; i < m.layers.size(); ++i) {
                    BaseLayerInfo info;
                    info.name = names.is_array() && i < names.size() ? names[i].get<std::string>()
                                                                     : std::to_string(i);
                    info.descriptor = m.layers[i];
                    info.diff_id = i < c.diff_ids.size() ? c.diff_ids[i] : Digest{};
                    info.reused = true;
                    result.layers.push_back(std::move(info));
                }
                auto vp = nlohmann::json::parse(c.labels[k_label_virtual_packages], nullptr, false);
                if (vp.is_object()) {
                    for (const auto& [k, v] : vp.items()) {
                        result.virtual_packages[k] = v.get<std::string>();
                    }
                }
                store.tag(result.name, desc);
                result.manifest = desc;
                result.cached = true;
                return result;
            }
        }
    }

    // 4. Debian layers
    Hasher dk = options_hasher("envpack.base.debian-layers.v1", o);
    dk.add("lock", lock->content_digest());
    for (const auto& g : recipe.layers) {
        dk.add("group", g.name);
        for (const auto& p : g.patterns) {
            dk.add("pattern", p);
        }
    }
    for (const auto& m : recipe.debian.mirrors) {
        dk.add("mirror", m);  // sources.list is written from them
    }
    for (const auto& c : recipe.debian.components) {
        dk.add("component", c);
    }
    fs::path debian_record = paths.layers() / (dk.finish().hex() + ".json");
    auto debian_layers = cached_layers(store, debian_record);
    if (!debian_layers) {
        if (rootfs.empty()) {
            std::vector<std::string> pinned;
            for (const auto& p : lock->packages) {
                pinned.push_back(p.name + "=" + p.version);
            }
            BootstrapRequest req;
            req.pinned = pinned;
            if (missing_debs(*lock, paths.debs()).empty()) {
                TempDir repo_dir("repo-", paths.tmp());
                make_local_repo(*lock, paths.debs(), repo_dir.path() / "repo", log);
                req.local_repo = repo_dir.path() / "repo";
                bootstrap(req);
            } else {
                bootstrap(req);
                for (const auto& p : lock->packages) {
                    if (Digest::of_file((paths.debs() / p.filename).string()).hex() != p.sha256) {
                        throw Error(fmt::format("base build: {} {} from the archive differs from "
                                                "the lock's sha256",
                                                p.name, p.version),
                                    "run `envpack base build --update` to resolve again");
                    }
                }
            }
        }
        normalise_rootfs(rootfs, recipe, *lock);
        ScanOptions so;
        so.warn_special = false;
        so.owners = Owners::keep;
        auto entries = scan_tree(rootfs, log, so);
        auto planned =
            plan_debian_layers(recipe.layers, read_ownership(rootfs), std::move(entries));
        std::vector<BaseLayerInfo> written;
        for (auto& p : planned) {
            written.push_back(
                write_one_layer(store, p.name, std::move(p.entries), Owners::keep, o, log));
        }
        record_layers(debian_record, written);
        debian_layers = std::move(written);
    }
    result.layers = *debian_layers;

    // 5. CUDA layers
    for (const auto& p : cuda_plans) {
        fs::path rec = paths.layers() / (cuda_layer_key(p, o).hex() + ".json");
        auto cached = cached_layers(store, rec);
        if (cached && cached->size() == 1) {
            result.layers.push_back(cached->front());
            continue;
        }
        BaseLayerInfo info = write_one_layer(store, p.name, cuda_entries(p), Owners::root, o, log);
        record_layers(rec, {info});
        result.layers.push_back(info);
    }

    // 6. config, manifest, tag
    ConfigInputs in{&recipe,
                    &*lock,
                    toolkit ? &*toolkit : nullptr,
                    result.layers,
                    o.recipe.filename().string(),
                    result.build_key};
    ImageConfig config = make_config(in, o.source_date_epoch.value_or(0));
    result.virtual_packages = virtual_packages(*lock, toolkit ? &*toolkit : nullptr);
    Descriptor config_desc = store.put_blob(config.to_bytes(), media_type::k_oci_config);
    Manifest manifest;
    manifest.config = config_desc;
    for (const auto& l : result.layers) {
        manifest.layers.push_back(l.descriptor);
    }
    Descriptor manifest_desc = store.put_blob(manifest.to_bytes(), media_type::k_oci_manifest);
    manifest_desc.platform = Platform{};
    store.tag(result.name, manifest_desc);
    make_dirs(paths.builds());
    write_file_atomic(build_record, manifest_desc.digest.to_string(), Durability::none);
    result.manifest = manifest_desc;
    return result;
}

}  // namespace envpack
