#include "builder/package_cache.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <fstream>
#include <future>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/conda_package.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/http.h"
#include "core/netrc.h"
#include "core/thread_pool.h"

namespace envpack {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_marker = ".envpack-extracted";

std::string url_to_local_path(std::string_view url) {
    if (url.starts_with("file://")) {
        return std::string(url.substr(7));
    }
    return std::string(url);
}

bool is_remote(std::string_view url) {
    return url.starts_with("http://") || url.starts_with("https://");
}

std::string expected_hash(const PackageSource& p) {
    return p.sha256.empty() ? "md5:" + p.md5 : p.sha256;
}

}  // namespace

std::string PackageSource::file_name() const {
    size_t slash = url.find_last_of('/');
    return slash == std::string::npos ? url : url.substr(slash + 1);
}

std::string file_sha256_hex(const fs::path& path) {
    return Digest::of_file(path.string()).hex();
}

std::string file_md5_hex(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw_errno("open", path.string(), errno);
    }
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr);
    std::vector<char> buf(1 << 16);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx.get(), out, &len);
    return to_hex(out, len);
}

std::string check_extracted(const fs::path& dir) {
    fs::path paths_json = dir / "info" / "paths.json";
    if (!fs::exists(dir / "info" / "index.json")) {
        return "info/index.json is missing";
    }
    if (!fs::exists(paths_json)) {
        return "";
    }
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_file(paths_json));
    } catch (const std::exception& e) {
        return fmt::format("info/paths.json is unreadable ({})", e.what());
    }
    for (const auto& p : j.value("paths", nlohmann::json::array())) {
        std::string rel = p.value("_path", "");
        std::string type = p.value("path_type", "hardlink");
        struct stat st {};
        if (::lstat((dir / rel).c_str(), &st) != 0) {
            return fmt::format("`{}` is missing", rel);
        }
        if (type == "hardlink" && p.contains("size_in_bytes") &&
            static_cast<std::uint64_t>(st.st_size) != p["size_in_bytes"].get<std::uint64_t>()) {
            return fmt::format("`{}` has {} bytes, paths.json says {}", rel, st.st_size,
                               p["size_in_bytes"].get<std::uint64_t>());
        }
    }
    return "";
}

PackageCache::PackageCache(PackageCacheOptions options, HttpClient* http, Log& log)
    : m_options(std::move(options)), m_http(http), m_log(log) {
    make_dirs(m_options.root);
}

bool PackageCache::file_matches(const PackageSource& package, const fs::path& file) const {
    if (!package.sha256.empty()) {
        return file_sha256_hex(file) == package.sha256;
    }
    return file_md5_hex(file) == package.md5;
}

void PackageCache::fetch_file(const PackageSource& package, const fs::path& target) {
    AtomicFile out(target, Durability::none);
    if (is_remote(package.url)) {
        if (m_http == nullptr) {
            throw Error(fmt::format("download `{}`: no HTTP client", package.url));
        }
        HttpRequest request = netrc_request(package.url);
        request.response_sink = &out;
        HttpResponse response = m_http->send(request);
        if (response.status != 200) {
            throw Error(
                fmt::format("download `{}` ({}): HTTP {}", redact(package.url), package.name,
                            response.status),
                response.status == 404 ? "the package is not in the channel: lock again" : "");
        }
    } else {
        fs::path src = url_to_local_path(package.url);
        std::ifstream in(src, std::ios::binary);
        if (!in) {
            throw Error(
                fmt::format("fetch `{}` ({}): no such file in the channel", package.url,
                            package.name),
                "the lock names a package the channel does not have: run `envpack lock` again");
        }
        std::vector<char> buf(1 << 16);
        while (in) {
            in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
            out.write(buf.data(), static_cast<size_t>(in.gcount()));
        }
    }
    if (!file_matches(package, out.temp_path())) {
        std::string got = package.sha256.empty() ? "md5 " + file_md5_hex(out.temp_path())
                                                 : "sha256 " + file_sha256_hex(out.temp_path());
        throw Error(
            fmt::format(
                "package `{}` from `{}`: hash mismatch: the lock says {}, the download has {}",
                package.name, redact(package.url),
                package.sha256.empty() ? "md5 " + package.md5 : "sha256 " + package.sha256, got),
            "the channel's file changed or the lock is wrong: run `envpack lock` again");
    }
    out.commit();
    std::lock_guard lock(m_stats_mutex);
    ++m_stats.downloaded;
}

fs::path PackageCache::ensure_one(const PackageSource& package) {
    const std::string fn = package.file_name();
    if (!package_format(fn)) {
        throw bad_input(
            fmt::format("package `{}`: `{}` is not a .conda or .tar.bz2 file", package.name, fn));
    }
    if (package.sha256.empty() && package.md5.empty()) {
        throw bad_input(fmt::format("package `{}`: the lock has no sha256 or md5 for `{}`",
                                    package.name, package.url),
                        "every package must be verifiable: lock again with envpack lock");
    }
    const std::string stem = package_stem(fn);
    const fs::path dir = m_options.root / stem;
    const fs::path file = m_options.root / fn;
    FileLock lock(m_options.root / (stem + ".lock"), LockMode::exclusive);

    const std::string want = expected_hash(package);
    if (fs::exists(dir / k_marker)) {
        std::string have = read_file(dir / k_marker);
        if (have != want) {
            // Same file name, other contents (another channel's build): replace it.
            m_log.infof("package cache `{}` holds another file of that name; replacing it",
                        dir.string());
        } else if (std::string problem = check_extracted(dir); problem.empty()) {
            std::lock_guard g(m_stats_mutex);
            ++m_stats.reused;
            return dir;
        } else {
            m_log.warnf("package cache `{}` is corrupt ({}); extracting it again", dir.string(),
                        problem);
            std::lock_guard g(m_stats_mutex);
            ++m_stats.repaired;
        }
    }
    if (fs::exists(file) && !file_matches(package, file)) {
        m_log.infof("package cache: `{}` does not match the lock's hash; fetching it again",
                    file.string());
        fs::remove(file);
        std::lock_guard g(m_stats_mutex);
        ++m_stats.repaired;
    }
    if (!fs::exists(file)) {
        fetch_file(package, file);
    }
    fs::path tmp = m_options.root / fmt::format(".tmp-{}-{}", stem, ::getpid());
    std::error_code ec;
    fs::remove_all(tmp, ec);
    try {
        extract_conda_package(file, tmp);
    } catch (const Error& e) {
        fs::remove_all(tmp, ec);
        throw e.with_context(fmt::format("install `{}`", package.name));
    }
    write_file_atomic(tmp / k_marker, want, Durability::none);
    fs::remove_all(dir, ec);
    fs::rename(tmp, dir);
    std::lock_guard g(m_stats_mutex);
    ++m_stats.extracted;
    return dir;
}

std::vector<fs::path> PackageCache::ensure(const std::vector<PackageSource>& packages) {
    std::vector<fs::path> dirs(packages.size());
    if (packages.empty()) {
        return dirs;
    }
    Progress progress(m_log, "packages", packages.size());
    ThreadPool pool(std::max(1U, m_options.parallel));
    std::vector<std::future<fs::path>> futures;
    futures.reserve(packages.size());
    for (const auto& p : packages) {
        futures.push_back(pool.submit([this, &p, &progress] {
            fs::path dir = ensure_one(p);
            progress.add(1);
            return dir;
        }));
    }
    std::exception_ptr first;
    for (size_t i = 0; i < futures.size(); ++i) {
        try {
            dirs[i] = futures[i].get();
        } catch (...) {
            if (!first) {
                first = std::current_exception();
            }
        }
    }
    if (first) {
        std::rethrow_exception(first);
    }
    progress.done();
    return dirs;
}

}  // namespace envpack
