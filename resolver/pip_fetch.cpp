#include "resolver/pip_fetch.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/compress.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/file_digest.h"
#include "core/fs.h"
#include "core/http.h"
#include "core/zip.h"
#include "resolver/pep508.h"
#include "resolver/pip_metadata.h"

namespace envpack::pip_fetch {
namespace fs = std::filesystem;
namespace {

constexpr std::uint64_t k_range_block = 64 * 1024;

std::string local_path_of(std::string_view url) {
    return pip_index::percent_decode(url.substr(std::string_view("file://").size()));
}

std::string metadata_from_zip(const ZipReader& zip, const std::string& label) {
    std::set<std::string> info_dirs;
    for (const auto& m : zip.members()) {
        auto slash = m.name.find('/');
        if (slash != std::string::npos && m.name.substr(0, slash).ends_with(".dist-info")) {
            info_dirs.insert(m.name.substr(0, slash));
        }
    }
    if (info_dirs.size() != 1) {
        throw bad_input(fmt::format("read metadata of wheel `{}`: {} `.dist-info` directories",
                                    label, info_dirs.empty() ? "no" : "several"),
                        "the wheel is malformed");
    }
    const ZipMember* m = zip.find(*info_dirs.begin() + "/METADATA");
    if (m == nullptr) {
        throw bad_input(fmt::format("read metadata of wheel `{}`: `{}/METADATA` is missing", label,
                                    *info_dirs.begin()),
                        "the wheel is malformed");
    }
    return zip.read(*m, 16u << 20);
}

// Bytes of a remote file read with `Range` requests in blocks of at least 64 KiB, kept in memory.
class RangeSource : public ZipSource {
  public:
    RangeSource(HttpClient& http, std::string url, std::uint64_t size, std::atomic<std::size_t>& n)
        : m_http(http), m_url(std::move(url)), m_size(size), m_requests(n) {}
    std::uint64_t size() override { return m_size; }
    std::string read(std::uint64_t offset, std::size_t length) override {
        for (const auto& [start, bytes] : m_blocks) {
            if (offset >= start && offset + length <= start + bytes.size()) {
                return bytes.substr(static_cast<std::size_t>(offset - start), length);
            }
        }
        std::uint64_t end = std::min<std::uint64_t>(
            m_size, offset + std::max<std::uint64_t>(length, k_range_block));
        std::string bytes = fetch(offset, end);
        std::string out = bytes.substr(0, length);
        m_blocks.emplace_back(offset, std::move(bytes));
        return out;
    }
    // Fetches [start, end); throws a protocol Error unless the server answers 206 with them.
    std::string fetch(std::uint64_t start, std::uint64_t end) {
        HttpRequest req;
        req.url = m_url;
        req.headers.emplace_back("Range", fmt::format("bytes={}-{}", start, end - 1));
        req.headers.emplace_back("Accept-Encoding", "identity");
        ++m_requests;
        HttpResponse r = m_http.send(req);
        if (r.status != 206 || r.body.size() != end - start) {
            throw protocol_error(fmt::format("range request to `{}`: HTTP {} with {} bytes",
                                             redact(m_url), r.status, r.body.size()));
        }
        return std::move(r.body);
    }
    void prefetch_tail() {
        std::uint64_t start = m_size > k_range_block ? m_size - k_range_block : 0;
        m_blocks.emplace_back(start, fetch(start, m_size));
    }

  private:
    HttpClient& m_http;
    std::string m_url;
    std::uint64_t m_size;
    std::atomic<std::size_t>& m_requests;
    std::vector<std::pair<std::uint64_t, std::string>> m_blocks;
};

}  // namespace

std::string wheel_metadata_text(const fs::path& wheel) {
    ZipReader zip = ZipReader::open(wheel);
    return metadata_from_zip(zip, wheel.filename().string());
}

std::string wheel_sha256(const fs::path& wheel, const fs::path& cache_dir) {
    return remembered_file_digest(wheel,
                                  cache_dir.empty() ? fs::path() : cache_dir / "local-digests")
        .hex();
}

fs::path fetch_wheel(const pip_index::IndexFile& f, const fs::path& cache_dir, HttpClient* http,
                     bool* downloaded) {
    if (downloaded != nullptr) {
        *downloaded = false;
    }
    const auto sha = f.hashes.find("sha256");
    if (f.url.starts_with("file://")) {
        fs::path p = local_path_of(f.url);
        if (sha != f.hashes.end() && wheel_sha256(p, cache_dir) != sha->second) {
            throw protocol_error(
                fmt::format("wheel `{}` does not match its sha256 {}", p.string(), sha->second),
                "the file changed since it was locked; lock again");
        }
        return p;
    }
    const std::string key =
        sha != f.hashes.end() ? sha->second : "url-" + Digest::of(f.url).hex().substr(0, 32);
    const fs::path target = cache_dir / "wheels" / key / f.filename;
    std::error_code ec;
    if (fs::exists(target, ec)) {
        return target;
    }
    if (http == nullptr) {
        throw Error(ErrorKind::network,
                    fmt::format("download `{}`: offline, and not in the cache `{}`", redact(f.url),
                                target.parent_path().string()),
                    "run once online, or serve the wheel from a --find-links directory");
    }
    make_dirs(target.parent_path());
    AtomicFile file(target, Durability::none);
    HashingSink hashing(&file);
    HttpRequest req;
    req.url = f.url;
    req.response_sink = &hashing;
    if (downloaded != nullptr) {
        *downloaded = true;
    }
    HttpResponse r = http->send(req);
    if (r.status != 200) {
        throw Error(error_kind_for_http_status(r.status),
                    fmt::format("download `{}`: HTTP {}", redact(f.url), r.status))
            .with_http_status(r.status);
    }
    const std::string got = hashing.finish().hex();
    if (sha != f.hashes.end() && sha->second != got) {
        throw protocol_error(fmt::format("download `{}`: sha256 {} where {} was expected",
                                         redact(f.url), got, sha->second),
                             "the index or a proxy served other bytes; nothing was installed");
    }
    file.commit();
    return target;
}

struct Finder::Impl {
    Impl(Options o, wheel::TargetTags t, HttpClient* h)
        : options(std::move(o)), tags(std::move(t)), http(h) {}
    Options options;
    wheel::TargetTags tags;
    HttpClient* http;
    std::map<std::string, pip_candidates::Selection> projects;  // normalised name -> files
    std::map<std::string, std::vector<pip_index::IndexFile>> find_links_files;
    bool find_links_loaded = false;
    std::mutex download_mutex;  // one download of a file at a time
    struct {
        std::atomic<std::size_t> pages{0}, local_metadata{0}, pep658{0}, range_metadata{0},
            range_requests{0}, downloads{0}, cache_hits{0};
    } counters;

    HttpClient& client(std::string_view url) {
        if (http == nullptr) {
            throw internal_error(fmt::format("fetch `{}`: no HTTP client", redact(url)));
        }
        return *http;
    }

    // Every file of every find-links source, once.
    void load_find_links() {
        if (find_links_loaded) {
            return;
        }
        find_links_loaded = true;
        for (const auto& source : options.find_links) {
            std::vector<pip_index::IndexFile> files;
            if (pip_index::is_url(source) && !source.starts_with("file://")) {
                HttpRequest req;
                req.url = source;
                ++counters.pages;
                HttpResponse r = client(source).send(req);
                if (r.status != 200) {
                    throw Error(error_kind_for_http_status(r.status),
                                fmt::format("fetch find-links page `{}`: HTTP {}", redact(source),
                                            r.status))
                        .with_http_status(r.status);
                }
                files = pip_index::parse_simple_html(
                    r.body, r.effective_url.empty() ? source : r.effective_url);
            } else {
                fs::path dir = source.starts_with("file://") ? fs::path(local_path_of(source))
                                                             : fs::path(source);
                std::error_code ec;
                if (!fs::is_directory(dir, ec)) {
                    throw bad_input(fmt::format("find-links `{}`: not a directory", source),
                                    "give a directory of wheels or the URL of an HTML page");
                }
                std::vector<fs::path> entries;
                for (const auto& e : fs::directory_iterator(dir)) {
                    if (e.is_regular_file()) {
                        entries.push_back(e.path());
                    }
                }
                std::sort(entries.begin(), entries.end());
                for (const auto& p : entries) {
                    pip_index::IndexFile f;
                    f.filename = p.filename().string();
                    f.url = "file://" + fs::absolute(p).string();
                    f.kind = pip_index::kind_of(f.filename);
                    files.push_back(std::move(f));
                }
            }
            for (auto& f : files) {
                std::string project;
                if (auto w = wheel::WheelFilename::try_parse(f.filename)) {
                    project = w->normalized_name();
                } else {
                    // sdist: `name-version.tar.gz`; the name is everything before the last '-'.
                    auto dash = f.filename.rfind('-');
                    project = pep508::normalize_name(
                        f.filename.substr(0, dash == std::string::npos ? 0 : dash));
                }
                find_links_files[project].push_back(std::move(f));
            }
        }
    }

    std::vector<pip_index::IndexFile> index_files(const std::string& index,
                                                  const std::string& name) {
        std::string base = index;
        if (!base.ends_with('/')) {
            base += '/';
        }
        const std::string url = base + name + "/";
        HttpRequest req;
        req.url = url;
        req.headers.emplace_back("Accept",
                                 "application/vnd.pypi.simple.v1+json, "
                                 "application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01");
        ++counters.pages;
        HttpResponse r = client(url).send(req);
        if (r.status == 404) {
            return {};
        }
        if (r.status != 200) {
            throw Error(error_kind_for_http_status(r.status),
                        fmt::format("fetch index page `{}`: HTTP {}", redact(url), r.status),
                        "check --index-url; the index must serve PEP 503 or PEP 691 pages")
                .with_http_status(r.status);
        }
        const std::string page = r.effective_url.empty() ? url : r.effective_url;
        const std::string type = r.header("content-type").value_or("");
        if (type.find("application/vnd.pypi.simple.v1+json") != std::string::npos) {
            return pip_index::parse_simple_json(r.body, page);
        }
        return pip_index::parse_simple_html(r.body, page);
    }

    pip_candidates::Selection& project(const std::string& raw) {
        const std::string name = pep508::normalize_name(raw);
        if (auto it = projects.find(name); it != projects.end()) {
            return it->second;
        }
        std::vector<pip_index::IndexFile> files;
        if (auto direct = options.direct.find(name); direct != options.direct.end()) {
            files.push_back(direct->second);  // a `name @ URL` requirement: that file only
        } else {
            load_find_links();
            if (auto it = find_links_files.find(name); it != find_links_files.end()) {
                files = it->second;
            }
            for (const auto& index : options.indexes) {
                auto more = index_files(index, name);
                files.insert(files.end(), more.begin(), more.end());
            }
        }
        pip_candidates::Query query{name, pep440::SpecifierSet{}, pep440::PreReleases::allow,
                                    options.python};
        return projects.emplace(name, pip_candidates::select(files, query, tags)).first->second;
    }

    fs::path download(const pip_index::IndexFile& f) {
        if (f.url.starts_with("file://")) {
            return fetch_wheel(f, options.cache_dir, http);
        }
        std::lock_guard lock(download_mutex);
        bool downloaded = false;
        fs::path p = fetch_wheel(f, options.cache_dir, http, &downloaded);
        ++(downloaded ? counters.downloads : counters.cache_hits);
        return p;
    }

    std::optional<std::string> pep658(const pip_index::IndexFile& f) {
        HttpRequest req;
        req.url = f.url + ".metadata";
        HttpResponse r = client(req.url).send(req);
        if (r.status != 200) {
            return std::nullopt;
        }
        if (auto sha = f.metadata_hashes.find("sha256"); sha != f.metadata_hashes.end()) {
            if (Digest::of(r.body).hex() != sha->second) {
                throw protocol_error(fmt::format("metadata `{}`: sha256 does not match the index's",
                                                 redact(req.url)));
            }
        }
        ++counters.pep658;
        return std::move(r.body);
    }

    std::optional<std::string> lazy(const pip_index::IndexFile& f) {
        HttpRequest head;
        head.method = "HEAD";
        head.url = f.url;
        HttpResponse r = client(f.url).send(head);
        auto ranges = r.header("accept-ranges");
        auto length = r.header("content-length");
        if (r.status != 200 || !ranges || ranges->find("bytes") == std::string::npos || !length) {
            return std::nullopt;
        }
        std::uint64_t size = std::stoull(*length);
        try {
            auto source =
                std::make_unique<RangeSource>(*http, f.url, size, counters.range_requests);
            source->prefetch_tail();
            ZipReader zip(std::move(source), f.filename);
            std::string text = metadata_from_zip(zip, f.filename);
            ++counters.range_metadata;
            return text;
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::protocol) {
                return std::nullopt;  // the server does not really serve ranges
            }
            throw;
        }
    }

    std::string metadata_text(const pip_index::IndexFile& f) {
        if (f.url.starts_with("file://")) {
            ++counters.local_metadata;
            return wheel_metadata_text(download(f));
        }
        if (f.has_metadata) {
            if (auto text = pep658(f)) {
                return *text;
            }
        }
        if (auto text = lazy(f)) {
            return *text;
        }
        return wheel_metadata_text(download(f));
    }
};

Finder::Finder(Options options, wheel::TargetTags tags, HttpClient* http)
    : m_impl(std::make_unique<Impl>(std::move(options), std::move(tags), http)) {}

Finder::~Finder() = default;

std::vector<pip_resolve::Release> Finder::releases(const std::string& name) {
    const auto& sel = m_impl->project(name);
    std::vector<pip_resolve::Release> out;
    for (std::size_t i = 0; i < sel.candidates.size(); ++i) {
        out.push_back({sel.candidates[i].version, i});
    }
    return out;
}

std::vector<pep508::Requirement> Finder::requirements(const std::string& name,
                                                      const pip_resolve::Release& release) {
    const auto& c = candidate(name, release);
    const std::string text = m_impl->metadata_text(c.file);
    auto meta = pip_metadata::CoreMetadata::parse(text, c.file.filename + ": METADATA");
    if (pep508::normalize_name(meta.name) != pep508::normalize_name(name) ||
        !(meta.version == c.version)) {
        throw bad_input(
            fmt::format("wheel `{}`: its metadata says {} {}, its file name {} {}", c.file.filename,
                        meta.name, meta.version.to_string(), name, c.version.to_string()),
            "the index serves inconsistent metadata; pip refuses it too");
    }
    return meta.requires_dist;
}

const pip_candidates::Candidate& Finder::candidate(const std::string& name,
                                                   const pip_resolve::Release& release) const {
    auto it = m_impl->projects.find(pep508::normalize_name(name));
    if (it == m_impl->projects.end() || release.handle >= it->second.candidates.size()) {
        throw internal_error(fmt::format("pip: no candidate {} of {}", release.handle, name));
    }
    return it->second.candidates[release.handle];
}

fs::path Finder::wheel_path(const std::string& name, const pip_resolve::Release& release) {
    return m_impl->download(candidate(name, release).file);
}

std::vector<pip_candidates::Rejection> Finder::rejections(const std::string& name) const {
    auto it = m_impl->projects.find(pep508::normalize_name(name));
    return it == m_impl->projects.end() ? std::vector<pip_candidates::Rejection>{}
                                        : it->second.rejected;
}

std::vector<std::string> Finder::unusable_projects() const {
    std::vector<std::string> out;
    for (const auto& [name, selection] : m_impl->projects) {
        if (selection.candidates.empty()) {
            out.push_back(name);
        }
    }
    return out;
}

Counters Finder::counters() const {
    const auto& c = m_impl->counters;
    return {c.pages,          c.local_metadata, c.pep658,    c.range_metadata,
            c.range_requests, c.downloads,      c.cache_hits};
}

}  // namespace envpack::pip_fetch
