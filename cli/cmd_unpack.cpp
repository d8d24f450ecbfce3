// envpack unpack REF [-o DIR] [--json]
//
// Without -o: the image's root filesystem in the unpack cache ($ENVPACK_HOME/unpacked/<manifest
// hex>/rootfs, made once and shared with `envpack run`); prints its path. With -o DIR: unpacks into
// DIR (new or empty) instead, outside the cache; prints DIR.
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "builder/unpack.h"
#include "builder/unpack_cache.h"
#include "cli/args.h"
#include "cli/context.h"
#include "core/error.h"
#include "registry/reference.h"
#include "registry/store.h"

namespace envpack::cli {

namespace {

std::string store_name(const std::string& text) {
    if (text.starts_with("sha256:") || text.find('@') != std::string::npos) {
        return text;
    }
    return ImageRef::parse(text).store_name();
}

nlohmann::json stats_json(const UnpackStats& s) {
    return {{"layers", s.layers}, {"entries", s.entries},     {"files", s.files},
            {"bytes", s.bytes},   {"whiteouts", s.whiteouts}, {"skipped", s.skipped}};
}

}  // namespace

int cmd_unpack(Context& ctx, const std::vector<std::string>& argv) {
    Args args("unpack", argv, {{"--output", "-o", true}, {"--json", "", false}});
    std::string name = store_name(args.positional(0, "REF"));
    args.expect_at_most(1);
    Store store(ctx.store_dir());
    Descriptor md = store.resolve_or_throw(name);
    auto start = std::chrono::steady_clock::now();
    nlohmann::json j = {{"reference", name}, {"digest", md.digest.to_string()}};
    std::string rootfs;
    if (auto out = args.value("--output")) {
        Manifest m = store.read_manifest(md);
        UnpackOptions o;
        o.progress_label = "unpack " + name;
        UnpackStats s = unpack_image(store, m, *out, ctx.log, o);
        rootfs = *out;
        j["reused"] = false;
        j["stats"] = stats_json(s);
    } else {
        UnpackedImage u = ensure_unpacked(store, md, ctx.home, ctx.log);
        rootfs = u.rootfs().string();
        j["reused"] = u.reused();
        j["stats"] = stats_json(u.stats());
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    j["rootfs"] = rootfs;
    j["seconds"] = seconds;
    if (args.flag("--json")) {
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("%s\n", rootfs.c_str());
    }
    return 0;
}

}  // namespace envpack::cli
