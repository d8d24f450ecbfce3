#include "builder/image_build.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/conda_install.h"
#include "builder/import.h"
#include "builder/layer.h"
#include "builder/layer_plan.h"
#include "builder/package_cache.h"
#include "core/archive.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/hasher.h"
#include "resolver/env_file.h"
#include "resolver/lockfile.h"

namespace envpack {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::size_t k_max_total_layers = 100;

// What the builder remembers about an installed package, so a rebuild needs no extraction.
struct PackageRecordCache {
    std::string dist, name, version, build, license, channel;
    std::string meta_file, meta_json;
    std::vector<std::string> paths;  // layer paths of files and links
    std::uint64_t installed_size = 0;
};

struct Item {
    const LockedPackage* locked = nullptr;
    PackageSource source;
    PackageOrigin origin;
    Digest install_key;
    std::optional<PackageRecordCache> record;
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

std::optional<json> read_json_file(const fs::path& p) {
    std::error_code ec;
    if (!fs::exists(p, ec)) {
        return std::nullopt;
    }
    try {
        return json::parse(read_file(p));
    } catch (const std::exception&) {
        return std::nullopt;  // a damaged cache entry is a miss
    }
}

PackageRecordCache to_record(const InstalledPackage& p) {
    PackageRecordCache r{p.dist(),  p.name,      p.version,   p.build, p.license,
                         p.channel, p.meta_file, p.meta_json, {},      p.installed_size};
    for (const auto& e : p.entries) {
        if (e.type != EntryType::directory) {
            r.paths.push_back(e.path);
        }
    }
    return r;
}

json record_to_json(const PackageRecordCache& r) {
    return json{{"dist", r.dist},           {"name", r.name},
                {"version", r.version},     {"build", r.build},
                {"license", r.license},     {"channel", r.channel},
                {"meta_file", r.meta_file}, {"meta_json", r.meta_json},
                {"paths", r.paths},         {"installed_size", r.installed_size}};
}

std::optional<PackageRecordCache> record_from_json(const json& j) {
    try {
        PackageRecordCache r;
        r.dist = j.at("dist");
        r.name = j.at("name");
        r.version = j.at("version");
        r.build = j.at("build");
        r.license = j.at("license");
        r.channel = j.at("channel");
        r.meta_file = j.at("meta_file");
        r.meta_json = j.at("meta_json");
        r.paths = j.at("paths").get<std::vector<std::string>>();
        r.installed_size = j.at("installed_size");
        return r;
    } catch (const json::exception&) {
        return std::nullopt;
    }
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

}  // namespace

BuildResult build_image(Store& store, const BuildOptions& options, HttpClient* http, Log& log) {
    BuildResult result;
    if (options.prefix.empty() || options.prefix[0] != '/' || options.prefix.size() < 2 ||
        options.prefix.back() == '/' || !safe_relative_path(options.prefix.substr(1))) {
        throw bad_input(
            fmt::format("build: prefix `{}` is not an absolute path without `..` or a trailing `/`",
                        options.prefix));
    }
    EnvSpec env = EnvSpec::load(options.env_file);
    if (!env.pip.empty()) {
        // Said at every build, not only at lock time: the image will lack these packages.
        log.warnf(
            "{}: the `pip:` list ({} requirements) is not installed yet; the image holds the "
            "conda packages only",
            options.env_file.string(), env.pip.size());
    }
    fs::path lock_path =
        options.lock_file.empty() ? env.base_dir() / "conda-lock.yml" : options.lock_file;
    if (!fs::exists(lock_path)) {
        throw bad_input(fmt::format("build: no lock file `{}`", lock_path.string()),
                        fmt::format("run `envpack lock -f {}` first, or give --lock FILE",
                                    options.env_file.string()));
    }
    const std::string lock_text = read_file(lock_path);
    LockFile lock = LockFile::parse(lock_text, lock_path);
    switch (lock_state(lock, env, options.platform)) {
        case LockState::missing_platform:
            throw bad_input(fmt::format("build: `{}` has no packages for {}", lock_path.string(),
                                        options.platform),
                            fmt::format("run `envpack lock -f {} -p {}`", options.env_file.string(),
                                        options.platform));
        case LockState::stale:
            throw bad_input(
                fmt::format("build: `{}` is stale: `{}` changed since it was locked",
                            lock_path.string(), options.env_file.string()),
                fmt::format("run `envpack lock -f {}` again", options.env_file.string()));
        case LockState::fresh:
            break;
    }
    std::vector<const LockedPackage*> locked;
    for (const auto* p : lock.packages_for(options.platform)) {
        if (p->manager != "conda") {
            throw bad_input(fmt::format(
                "build: the lock has a `{}` package ({}); only conda packages are installed yet",
                p->manager, p->name));
        }
        locked.push_back(p);
    }
    const std::string python_version = python_version_of(locked);

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
    } else {
        config.created = rfc3339(options.source_date_epoch.value_or(0));
    }
    const std::size_t base_layers = base_manifest.layers.size();
    std::size_t max_layers = options.max_layers.value_or(
        k_max_total_layers > base_layers + 1 ? k_max_total_layers - base_layers : 1);
    if (base_layers + max_layers > k_max_total_layers) {
        throw bad_input(
            fmt::format("build: {} base layers + --max-layers {} exceed {} layers", base_layers,
                        max_layers, k_max_total_layers),
            fmt::format("use --max-layers {} or less",
                        k_max_total_layers - std::min(base_layers, k_max_total_layers)));
    }
    if (max_layers < 2 && !locked.empty()) {
        throw bad_input(
            fmt::format(
                "build: --max-layers {} leaves no layer for packages (one is the conda-meta layer)",
                max_layers),
            "use --max-layers 2 or more");
    }

    // The build key.
    const std::string compressor = compressor_id(options.compression);
    Hasher key("envpack.build.v1");
    key.add("platform", options.platform)
        .add("prefix", options.prefix)
        .add("compression", compressor);
    key.add("max_layers", static_cast<std::int64_t>(max_layers));
    key.add("sde", options.source_date_epoch.value_or(-1));
    key.add("base", base_desc ? base_desc->digest.to_string() : std::string("none"));
    key.add("base_name", options.base.value_or(""));
    key.add("packages", static_cast<std::int64_t>(locked.size()));
    for (const auto* p : locked) {
        key.add("url", p->url).add("sha256", p->sha256).add("md5", p->md5);
    }
    for (const auto& [k, v] : env.variables) {
        key.add("var", k).add("value", v);
    }
    result.build_key = key.finish().hex();
    const std::string name = options.tag.empty()
                                 ? fmt::format("envpack/{}:{}", env.name.empty() ? "env" : env.name,
                                               result.build_key.substr(0, 12))
                                 : options.tag;
    result.name = name;
    const fs::path builds_dir = options.home / "builds";
    const fs::path layers_dir = options.home / "layers";
    make_dirs(builds_dir);
    make_dirs(layers_dir);
    if (auto j = read_json_file(builds_dir / result.build_key); j && j->contains("manifest")) {
        try {
            Descriptor d = Descriptor::from_json(j->at("manifest"), "build cache");
            if (store.has_blob(d.digest)) {
                Manifest m = store.read_manifest(d);
                ImageConfig c = store.read_config(m);
                auto it = c.labels.find(k_label_build_key);
                if (it != c.labels.end() && it->second == result.build_key) {
                    store.tag(name, d);
                    result.manifest = d;
                    result.cached = true;
                    result.explain.push_back(
                        fmt::format("image: reused {} (build key {} unchanged)",
                                    d.digest.to_string(), result.build_key.substr(0, 16)));
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
    if (options.remote_cache && options.remote_cache(result.build_key, name)) {
        if (auto d = store.resolve(name)) {
            result.manifest = *d;
            result.cached = true;
            result.cached_remote = true;
            result.explain.push_back(
                fmt::format("image: reused {} from the registry (build key {})",
                            d->digest.to_string(), result.build_key.substr(0, 16)));
            write_file_atomic(builds_dir / result.build_key,
                              nlohmann::json{{"manifest", d->to_json()}}.dump());
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
        it.origin = PackageOrigin{p->url, channel_of(p->url), p->sha256, p->md5};
        Hasher h("envpack.package-install.v1");
        h.add("hash", p->sha256.empty() ? "md5:" + p->md5 : p->sha256)
            .add("fn", it.source.file_name());
        h.add("url", p->url).add("prefix", options.prefix);
        h.add("python", url_is_noarch(p->url) ? python_version : std::string());
        it.install_key = h.finish();
        if (auto j = read_json_file(layers_dir / ("pkg-" + it.install_key.hex() + ".json"))) {
            it.record = record_from_json(*j);
        }
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
            it.record = to_record(*it.installed);
            write_file_atomic(layers_dir / ("pkg-" + it.install_key.hex() + ".json"),
                              record_to_json(*it.record).dump(), Durability::none);
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
    auto plan = plan_layers(inputs, max_layers - 1);
    LayerOptions lo;
    lo.compression = options.compression;
    lo.threads = options.threads;
    lo.source_date_epoch = options.source_date_epoch;

    struct Written {
        Descriptor desc;
        Digest diff_id;
        std::string created_by;
    };
    std::vector<Written> layers;
    auto record_layer = [&](const fs::path& cache_file, const LayerResult& r) {
        json j{{"digest", r.digest.to_string()},
               {"diff_id", r.diff_id.to_string()},
               {"size", r.size},
               {"media_type", r.media_type}};
        write_file_atomic(cache_file, j.dump(), Durability::none);
    };
    for (const auto& planned : plan) {
        Hasher lk("envpack.layer.v1");
        lk.add("compressor", compressor).add("sde", options.source_date_epoch.value_or(-1));
        std::string what;
        for (size_t i : planned.packages) {
            lk.add("package", items[i].install_key);
            for (const auto& d : items[i].dropped) {
                lk.add("dropped", d);
            }
            what += (what.empty() ? "" : " ") + items[i].record->dist;
        }
        const Digest layer_key = lk.finish();
        const fs::path cache_file = layers_dir / (layer_key.hex() + ".json");
        const std::string created_by = planned.shared
                                           ? fmt::format("envpack build: packages {}", what)
                                           : fmt::format("envpack build: package {}", what);
        if (auto j = read_json_file(cache_file)) {
            auto digest = Digest::parse(j->value("digest", ""));
            auto diff_id = Digest::parse(j->value("diff_id", ""));
            if (digest && diff_id && store.has_blob(*digest)) {
                Descriptor d;
                d.media_type = j->value("media_type", "");
                d.digest = *digest;
                d.size = j->value("size", std::int64_t{0});
                layers.push_back({d, *diff_id, created_by});
                ++result.layers_reused;
                result.explain.push_back(fmt::format("layer {}: reused {} ({})",
                                                     layers.size() + base_layers,
                                                     digest->to_string().substr(0, 19), what));
                continue;
            }
        }
        // Write it: every member needs its installed entries.
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
                if (e.type != EntryType::directory && items[i].dropped.contains(e.path)) {
                    continue;
                }
                entries.push_back(e);
            }
        }
        BlobWriter blob = store.begin_blob();
        LayerResult r;
        try {
            r = write_layer(std::move(entries), lo, blob);
            blob.commit(r.digest);
        } catch (const Error& e) {
            throw e.with_context(fmt::format("build: write the layer of {}", what));
        }
        record_layer(cache_file, r);
        Descriptor d;
        d.media_type = r.media_type;
        d.digest = r.digest;
        d.size = static_cast<std::int64_t>(r.size);
        layers.push_back({d, r.diff_id, created_by});
        ++result.layers_written;
        result.explain.push_back(
            fmt::format("layer {}: wrote {} ({}): {}", layers.size() + base_layers,
                        r.digest.to_string().substr(0, 19), what,
                        items[planned.packages[0]].installed
                            ? "no cached layer with key " + layer_key.hex().substr(0, 16)
                            : ""));
    }

    // The conda-meta layer.
    const std::string prefix_rel = options.prefix.substr(1);
    std::vector<LayerEntry> meta;
    std::string history = fmt::format("==> {} <==\n# cmd: envpack build -f {}\n",
                                      "1970-01-01 00:00:00", options.env_file.filename().string());
    json package_list = json::array();
    for (const auto& it : items) {
        LayerEntry e;
        e.path = prefix_rel + "/" + it.record->meta_file;
        e.data = it.record->meta_json;
        e.size = e.data.size();
        meta.push_back(std::move(e));
        history += fmt::format("+{}::{}\n", it.record->channel, it.record->dist);
        package_list.push_back(json{{"name", it.record->name},
                                    {"version", it.record->version},
                                    {"build", it.record->build},
                                    {"channel", it.record->channel},
                                    {"license", it.record->license}});
    }
    {
        LayerEntry e;
        e.path = prefix_rel + "/conda-meta/history";
        e.data = history;
        e.size = e.data.size();
        meta.push_back(std::move(e));
        LayerEntry bin;
        bin.path = prefix_rel + "/bin";
        bin.type = EntryType::directory;
        bin.mode = 0755;
        meta.push_back(std::move(bin));
    }
    {
        BlobWriter blob = store.begin_blob();
        LayerResult r;
        try {
            r = write_layer(std::move(meta), lo, blob);
            blob.commit(r.digest);
        } catch (const Error& e) {
            throw e.with_context("build: write the conda-meta layer");
        }
        Descriptor d;
        d.media_type = r.media_type;
        d.digest = r.digest;
        d.size = static_cast<std::int64_t>(r.size);
        layers.push_back({d, r.diff_id, "envpack build: conda-meta"});
    }

    // The config and manifest.
    std::string base_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    std::vector<std::string> env_out;
    for (const auto& kv : config.env) {
        if (kv.starts_with("PATH=")) {
            base_path = kv.substr(5);
        } else if (!kv.starts_with("CONDA_PREFIX=") && !kv.starts_with("CONDA_DEFAULT_ENV=")) {
            env_out.push_back(kv);
        }
    }
    env_out.push_back(fmt::format("PATH={}/bin:{}", options.prefix, base_path));
    env_out.push_back("CONDA_PREFIX=" + options.prefix);
    env_out.push_back("CONDA_DEFAULT_ENV=" + options.prefix);
    for (const auto& [k, v] : env.variables) {
        std::erase_if(env_out, [&k](const std::string& s) { return s.starts_with(k + "="); });
        env_out.push_back(k + "=" + v);
    }
    config.env = env_out;
    config.created = rfc3339(options.source_date_epoch.value_or(0));
    config.labels[k_label_build_key] = result.build_key;
    config.labels[k_label_lock_digest] = Digest::of(lock_text).to_string();
    config.labels[k_label_packages] = package_list.dump();
    for (const auto& l : layers) {
        config.diff_ids.push_back(l.diff_id);
        config.history.push_back(json{{"created", config.created}, {"created_by", l.created_by}});
    }
    Descriptor config_desc = store.put_blob(config.to_bytes(), media_type::k_oci_config);
    Manifest manifest;
    manifest.config = config_desc;
    manifest.layers = base_manifest.layers;
    for (const auto& l : layers) {
        manifest.layers.push_back(l.desc);
    }
    manifest.annotations[annotation::k_created] = config.created;
    if (base_desc) {
        manifest.annotations[annotation::k_base_name] = *options.base;
        manifest.annotations[annotation::k_base_digest] = base_desc->digest.to_string();
    }
    Descriptor manifest_desc = store.put_blob(manifest.to_bytes(), media_type::k_oci_manifest);
    manifest_desc.platform = config.platform;
    store.tag(name, manifest_desc);
    write_file_atomic(builds_dir / result.build_key,
                      json{{"manifest", manifest_desc.to_json()}}.dump(), Durability::none);
    result.manifest = manifest_desc;
    return result;
}

}  // namespace envpack
