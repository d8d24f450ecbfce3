#include "builder/image_build.h"

#include <algorithm>
#include <functional>
#include <future>
#include <map>
#include <set>

#include <fmt/format.h>

#include "builder/build_key.h"
#include "builder/conda_install.h"
#include "builder/detail/install_order.h"
#include "builder/layer.h"
#include "builder/layer_cache.h"
#include "builder/layer_plan.h"
#include "builder/manifest_assembly.h"
#include "builder/package_cache.h"
#include "builder/pip_layers.h"
#include "core/archive.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "registry/build_cache.h"
#include "resolver/env_file.h"
#include "resolver/lock.h"
#include "resolver/lockfile.h"

namespace envpack {

namespace {

constexpr std::size_t k_max_total_layers = 100;

struct Item {
    const LockedPackage* locked = nullptr;
    PackageSource source;
    PackageOrigin origin;  // as conda-meta records it: portable URL and channel
    Digest install_key;
    std::optional<CachedPackage> record;
    std::optional<InstalledPackage> installed;  // only when its layer must be written
    std::set<std::string> dropped;              // paths clobbered by a later package
};

std::string channel_of(const std::string& url) {
    // .../channel/subdir/fn -> .../channel
    size_t a = url.find_last_of('/');
    if (a == std::string::npos || a == 0) {
        return "";
    }
    size_t b = url.find_last_of('/', a - 1);
    return b == std::string::npos ? "" : url.substr(0, b);
}

bool url_is_noarch(const std::string& url) {
    return url.find("/noarch/") != std::string::npos;
}

std::string python_version_of(const std::vector<const LockedPackage*>& pkgs) {
    for (const auto* p : pkgs) {
        if (p->name == "python") {
            size_t dot = p->version.find('.');
            size_t dot2 =
                dot == std::string::npos ? std::string::npos : p->version.find('.', dot + 1);
            return p->version.substr(0, dot2);
        }
    }
    return "";
}

void check_prefix(const std::string& prefix) {
    if (prefix.empty() || prefix[0] != '/' || prefix.size() < 2 || prefix.back() == '/' ||
        !safe_relative_path(prefix.substr(1))) {
        throw bad_input(fmt::format(
            "build: prefix `{}` is not an absolute path without `..` or a trailing `/`", prefix));
    }
}

struct LockedSets {
    std::vector<const LockedPackage*> conda;
    std::vector<const LockedPackage*> pip;
};

LockedSets locked_packages(const LockFile& lock, const std::string& platform) {
    if (!lock.content_hash.contains(platform) && lock.packages_for(platform).empty()) {
        throw bad_input(fmt::format("build: the lock has no packages for {}", platform),
                        fmt::format("lock that platform: envpack lock -p {}", platform));
    }
    LockedSets out;
    for (const auto* p : lock.packages_for(platform)) {
        if (p->manager == "conda") {
            out.conda.push_back(p);
        } else if (p->manager == "pip") {
            out.pip.push_back(p);
        } else {
            throw bad_input(
                fmt::format("build: the lock has a `{}` package ({}); envpack "
                            "installs conda and pip packages",
                            p->manager, p->name));
        }
    }
    return out;
}

// The layers the pip packages get: at most a quarter of the environment's, at least one.
std::size_t pip_layer_budget(std::size_t pip_packages, std::size_t max_layers) {
    if (pip_packages == 0) {
        return 0;
    }
    return std::min(pip_packages, std::max<std::size_t>(1, (max_layers - 1) / 4));
}

std::size_t layer_budget(const BuildOptions& options, std::size_t base_layers, bool any) {
    std::size_t max_layers = options.max_layers.value_or(
        k_max_total_layers > base_layers + 1 ? k_max_total_layers - base_layers : 1);
    if (base_layers + max_layers > k_max_total_layers) {
        throw bad_input(
            fmt::format("build: {} base layers + --max-layers {} exceed {} layers", base_layers,
                        max_layers, k_max_total_layers),
            fmt::format("use --max-layers {} or less",
                        k_max_total_layers - std::min(base_layers, k_max_total_layers)));
    }
    if (max_layers < 2 && any) {
        throw bad_input(
            fmt::format(
                "build: --max-layers {} leaves no layer for packages (one is the conda-meta layer)",
                max_layers),
            "use --max-layers 2 or more");
    }
    return max_layers;
}

Descriptor write_entries(Store& store, std::vector<LayerEntry> entries, const LayerOptions& lo,
                         const std::string& what, LayerResult& r) {
    BlobWriter blob = store.begin_blob();
    try {
        r = write_layer(std::move(entries), lo, blob);
        r.size = blob.size();
        r.digest = blob.commit();
    } catch (const Error& e) {
        throw e.with_context(fmt::format("build: write the layer of {}", what));
    }
    Descriptor d;
    d.media_type = r.media_type;
    d.digest = r.digest;
    d.size = static_cast<std::int64_t>(r.size);
    return d;
}

}  // namespace

BuildResult build_environment(Store& store, const EnvSpec& env, const LockFile& lock,
                              const BuildOptions& options, HttpClient* http, Log& log) {
    BuildResult result;
    check_prefix(options.prefix);
    const LockedSets sets = locked_packages(lock, options.platform);
    const std::vector<const LockedPackage*>& locked = sets.conda;
    const std::string python_version = python_version_of(locked);
    if (!sets.pip.empty() && python_version.empty()) {
        throw bad_input("build: the lock has pip packages but no python",
                        "add python to the environment's conda dependencies and lock again");
    }

    // The base.
    FileLock writer = store.writer_lock();
    std::optional<Descriptor> base_desc;
    Manifest base_manifest;
    ImageConfig config;
    if (options.base) {
        base_desc = store.resolve(*options.base);
        if (!base_desc) {
            throw bad_input(
                fmt::format("build: base image `{}` is not in the local store `{}`", *options.base,
                            store.root().string()),
                "import or pull it first (envpack import ROOTFS -t NAME, envpack pull REF)");
        }
        base_manifest = store.read_manifest(*base_desc);
        config = store.read_config(base_manifest);
    }
    const std::size_t base_layers = base_manifest.layers.size();
    const std::size_t max_layers = layer_budget(options, base_layers, !locked.empty());
    const std::size_t pip_layers = pip_layer_budget(sets.pip.size(), max_layers);
    if (pip_layers > 0 && max_layers < 3) {
        throw bad_input(fmt::format("build: --max-layers {} leaves no layer for the pip packages "
                                    "(one is conda-meta, one at least for conda packages)",
                                    max_layers),
                        "use --max-layers 3 or more");
    }

    // The build key, and the image it names.
    const std::string compressor = compressor_id(options.compression);
    BuildKeyInputs key_inputs;
    key_inputs.platform = options.platform;
    key_inputs.prefix = options.prefix;
    key_inputs.compressor = compressor;
    key_inputs.max_layers = max_layers;
    key_inputs.source_date_epoch = options.source_date_epoch;
    if (base_desc) {
        key_inputs.base_digest = base_desc->digest;
    }
    key_inputs.base_name = options.base.value_or("");
    key_inputs.variables = env.variables;
    for (const auto* p : locked) {
        key_inputs.packages.push_back({portable_url(p->url, env), p->sha256, p->md5});
    }
    PipInstallOptions pip_options;
    pip_options.prefix = options.prefix;
    pip_options.home = options.home;
    pip_options.parallel = options.parallel;
    if (!sets.pip.empty()) {
        const auto dot = python_version.find('.');
        pip_options.python_major = static_cast<unsigned>(std::stoul(python_version.substr(0, dot)));
        pip_options.python_minor =
            static_cast<unsigned>(std::stoul(python_version.substr(dot + 1)));
        pip_requests_of(env, pip_options);
    }
    for (const auto* p : sets.pip) {
        key_inputs.packages.push_back(
            {"pip:" + p->url, pip_install_key(*p, pip_options).hex(), ""});
    }
    const std::string lock_digest = Digest::of(portable_lock_text(lock, env)).to_string();
    key_inputs.lock_digest = lock_digest;
    result.build_key = build_key(key_inputs);
    const std::string name = options.tag.empty()
                                 ? fmt::format("envpack/{}:{}", env.name.empty() ? "env" : env.name,
                                               result.build_key.substr(0, 12))
                                 : options.tag;
    result.name = name;
    const BuildIndex builds(options.home / "builds");
    const LayerCache layer_cache(options.home / "layers");
    if (auto d = builds.find(result.build_key)) {
        try {
            if (store.has_blob(d->digest)) {
                Manifest m = store.read_manifest(*d);
                ImageConfig c = store.read_config(m);
                auto it = c.labels.find(k_label_build_key);
                if (it != c.labels.end() && it->second == result.build_key) {
                    store.tag(name, *d);
                    result.manifest = *d;
                    result.cached = true;
                    result.explain.push_back(
                        fmt::format("image: reused {} (build key {} unchanged)",
                                    d->digest.to_string(), result.build_key.substr(0, 16)));
                    return result;
                }
            }
        } catch (const Error&) {
            // A damaged entry is a cache miss.
        }
        result.explain.push_back(
            "image: the build cache entry's image is gone from the store; building");
    } else {
        result.explain.push_back(fmt::format("image: no image with build key {} in the store",
                                             result.build_key.substr(0, 16)));
    }
    if (options.remote_cache != nullptr &&
        options.remote_cache->fetch(store, result.build_key, name)) {
        if (auto d = store.resolve(name)) {
            result.manifest = *d;
            result.cached = true;
            result.cached_remote = true;
            result.explain.push_back(
                fmt::format("image: reused {} from the registry (build key {})",
                            d->digest.to_string(), result.build_key.substr(0, 16)));
            builds.put(result.build_key, *d);
            return result;
        }
    }
    result.explain.push_back("image: building");

    // Packages: install keys and cached records.
    std::vector<Item> items(locked.size());
    for (size_t i = 0; i < locked.size(); ++i) {
        const auto* p = locked[i];
        Item& it = items[i];
        it.locked = p;
        it.source = PackageSource{p->name, p->url, p->sha256, p->md5};
        const std::string url = portable_url(p->url, env);
        it.origin = PackageOrigin{url, channel_of(url), p->sha256, p->md5};
        it.install_key =
            package_install_key({p->sha256, p->md5, it.source.file_name(), url, options.prefix,
                                 url_is_noarch(url) ? python_version : ""});
        it.record = layer_cache.find_package(it.install_key);
    }
    PackageCache cache(PackageCacheOptions{options.home / "pkgs", options.parallel}, http, log);
    InstallOptions install{options.prefix, python_version};
    auto install_items = [&](const std::vector<size_t>& which) {
        std::vector<PackageSource> sources;
        for (size_t i : which) {
            sources.push_back(items[i].source);
        }
        auto dirs = cache.ensure(sources);
        for (size_t k = 0; k < which.size(); ++k) {
            Item& it = items[which[k]];
            it.installed = plan_package_install(dirs[k], it.origin, install);
            if (it.installed->name != it.locked->name) {
                throw bad_input(fmt::format("build: `{}` holds package `{}`, the lock says `{}`",
                                            it.source.url, it.installed->name, it.locked->name));
            }
            it.record = CachedPackage::from_installed(*it.installed);
            layer_cache.put_package(it.install_key, *it.record);
        }
    };
    std::vector<size_t> missing;
    for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].record) {
            missing.push_back(i);
        }
    }
    install_items(missing);

    // Clobbers: the later package wins.
    {
        std::map<std::string, size_t> owner;
        for (size_t i = 0; i < items.size(); ++i) {
            for (const auto& path : items[i].record->paths) {
                auto [pos, inserted] = owner.emplace(path, i);
                if (!inserted) {
                    result.clobbers.push_back(fmt::format("`{}`: {} clobbers {}", path,
                                                          items[i].record->dist,
                                                          items[pos->second].record->dist));
                    items[pos->second].dropped.insert(path);
                    pos->second = i;
                }
            }
        }
        for (const auto& c : result.clobbers) {
            log.warnf("clobber: {}", c);
        }
    }

    // The plan and its layers.
    std::vector<PlanInput> inputs;
    for (const auto& it : items) {
        inputs.push_back({it.record->name, it.record->installed_size});
    }
    const auto plan = plan_layers(inputs, max_layers - 1 - pip_layers);
    LayerOptions lo;
    lo.compression = options.compression;
    lo.blob_digest = BlobDigest::by_sink;
    lo.threads = options.threads;
    lo.source_date_epoch = options.source_date_epoch;

    std::vector<Descriptor> layers;
    std::vector<AddedLayer> added;
    // Layers the cache does not have, written side by side once all are known (their entries are
    // gathered in order first: installing conda packages is not done in parallel here).
    struct Pending {
        std::size_t slot;  // index in `layers`, `added`
        std::size_t explain;
        Digest key;
        std::string what;
        std::vector<LayerEntry> entries;
    };
    std::vector<Pending> pending;
    // One layer of `members`: reused by its key when the cache has it, else written from what
    // `entries()` gives.
    auto add_layer = [&](const std::vector<LayerMember>& members, const std::string& what,
                         const std::string& created_by,
                         const std::function<std::vector<LayerEntry>()>& entries) {
        const Digest key = layer_key(compressor, options.source_date_epoch, members);
        if (auto cached = layer_cache.find_layer(key);
            cached && store.has_blob(cached->descriptor.digest)) {
            layers.push_back(cached->descriptor);
            added.push_back({cached->diff_id, created_by});
            ++result.layers_reused;
            result.explain.push_back(
                fmt::format("layer {}: reused {} ({})", layers.size() + base_layers,
                            cached->descriptor.digest.to_string().substr(0, 19), what));
            return;
        }
        pending.push_back({layers.size(), result.explain.size(), key, what, entries()});
        layers.emplace_back();
        added.push_back({{}, created_by});
        result.explain.emplace_back();
    };
    auto write_pending = [&] {
        if (pending.empty()) {
            return;
        }
        const unsigned lanes = std::max(
            1u, std::min<unsigned>(options.threads == 0 ? default_thread_count() : options.threads,
                                   static_cast<unsigned>(pending.size())));
        ThreadPool pool(lanes);
        std::vector<std::uint64_t> sizes;
        for (const auto& job : pending) {
            sizes.push_back(content_size(job.entries));
        }
        // Largest layers first; the first error in layer order is the one thrown.
        const std::vector<LayerResult> results = wheel_install::detail::run_in_order(
            pool, wheel_install::detail::largest_first(sizes), [&](std::size_t i) {
                Pending& job = pending[i];
                LayerResult r;
                layers[job.slot] = write_entries(store, std::move(job.entries), lo, job.what, r);
                return r;
            });
        for (std::size_t i = 0; i < pending.size(); ++i) {
            const Pending& job = pending[i];
            const LayerResult& r = results[i];
            added[job.slot].diff_id = r.diff_id;
            layer_cache.put_layer(job.key, r);
            ++result.layers_written;
            result.explain[job.explain] = fmt::format(
                "layer {}: wrote {} ({}): no cached layer with key {}", job.slot + 1 + base_layers,
                r.digest.to_string().substr(0, 19), job.what, job.key.hex().substr(0, 16));
        }
        pending.clear();
    };
    for (const auto& planned : plan) {
        std::vector<LayerMember> members;
        std::string what;
        for (size_t i : planned.packages) {
            members.push_back({items[i].install_key, items[i].dropped});
            what += (what.empty() ? "" : " ") + items[i].record->dist;
        }
        add_layer(
            members, what,
            fmt::format("envpack build: {} {}", planned.shared ? "packages" : "package", what),
            [&] {
                // Every member needs its installed entries.
                std::vector<size_t> need;
                for (size_t i : planned.packages) {
                    if (!items[i].installed) {
                        need.push_back(i);
                    }
                }
                install_items(need);
                std::vector<LayerEntry> entries;
                for (size_t i : planned.packages) {
                    for (auto& e : items[i].installed->entries) {
                        if (e.type == EntryType::directory || !items[i].dropped.contains(e.path)) {
                            entries.push_back(e);
                        }
                    }
                }
                return entries;
            });
    }

    // The pip packages, in their own layers above the conda ones.
    std::vector<CachedPackage> pip_records;
    std::vector<PipInstalled> pips;
    if (!sets.pip.empty()) {
        pips = install_pip_packages(sets.pip, pip_options, http);
        std::vector<PlanInput> pip_inputs;
        for (const auto& p : pips) {
            pip_inputs.push_back({p.locked->name, content_size(p.entries)});
            CachedPackage record;
            record.name = p.locked->name;
            record.version = p.locked->version;
            record.build = "pypi_0";  // what `conda list` shows for pip packages
            record.channel = "pypi";
            pip_records.push_back(std::move(record));
        }
        for (const auto& planned : plan_layers(pip_inputs, pip_layers)) {
            std::vector<LayerMember> members;
            std::string what;
            for (size_t i : planned.packages) {
                members.push_back({pips[i].install_key, {}});
                what += fmt::format("{}{}-{}", what.empty() ? "" : " ", pips[i].locked->name,
                                    pips[i].locked->version);
            }
            add_layer(members, "pip " + what, "envpack build: pip " + what, [&] {
                std::vector<LayerEntry> entries;  // moved: nothing reads them after this
                for (size_t i : planned.packages) {
                    entries.insert(entries.end(), std::make_move_iterator(pips[i].entries.begin()),
                                   std::make_move_iterator(pips[i].entries.end()));
                }
                return entries;
            });
        }
    }

    write_pending();
    remember_record_checks(pips, pip_options);
    // The conda-meta layer.
    std::vector<CachedPackage> records;
    for (const auto& it : items) {
        records.push_back(*it.record);
    }
    {
        LayerResult r;
        layers.push_back(write_entries(
            store, conda_meta_entries(options.prefix, records, env.file.filename().string()), lo,
            "conda-meta", r));
        added.push_back({r.diff_id, "envpack build: conda-meta"});
    }

    // The config and manifest.
    EnvConfigInputs config_inputs;
    config_inputs.prefix = options.prefix;
    config_inputs.variables = env.variables;
    config_inputs.source_date_epoch = options.source_date_epoch;
    config_inputs.labels[k_label_build_key] = result.build_key;
    config_inputs.labels[k_label_lock_digest] = lock_digest;
    records.insert(records.end(), pip_records.begin(), pip_records.end());
    config_inputs.labels[k_label_packages] = package_list_label(records);
    config_inputs.layers = std::move(added);
    config = render_env_config(std::move(config), config_inputs);
    Descriptor config_desc = store.put_blob(config.to_bytes(), media_type::k_oci_config);
    std::optional<BaseImage> base;
    if (base_desc) {
        base = BaseImage{*options.base, base_desc->digest};
    }
    Manifest manifest = assemble_manifest(base_manifest, layers, config_desc, base, config.created);
    Descriptor manifest_desc = store.put_blob(manifest.to_bytes(), media_type::k_oci_manifest);
    manifest_desc.platform = config.platform;
    store.tag(name, manifest_desc);
    builds.put(result.build_key, manifest_desc);
    result.manifest = manifest_desc;
    return result;
}

}  // namespace envpack
