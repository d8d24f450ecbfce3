// The index side of a pip resolution: finds a project's files on `--find-links` directories or
// pages and on PEP 503/691 simple indexes, picks the usable wheels (pip_candidates), reads each
// candidate's core metadata as cheaply as the source allows, and downloads the chosen wheels into
// a content-addressed cache, checked against the index's sha256. Implements pip_resolve's
// `Provider`.
//
// Pages: a find-links directory lists its files; a find-links URL is a PEP 503 HTML page; an index
// page is `INDEX/<normalised name>/`, asked for as PEP 691 JSON or HTML (whichever the server
// answers, by Content-Type). An index that answers 404 for a project has no files for it (pip
// does the same); HTML without links is a page without files; JSON that is not a PEP 691 page,
// and any other failure status, is an Error naming the URL.
//
// Metadata, cheapest first: a local wheel's `.dist-info/METADATA` (read from its central
// directory); the PEP 658/714 `URL.metadata` file when the index offers it (its sha256 checked);
// the remote wheel's METADATA read with HTTP range requests (pip's "lazy wheel": the tail holding
// the central directory, then the member) when the server answers a range with 206; otherwise the
// whole wheel, downloaded into the cache. Metadata whose name or version disagrees with the file
// name is a bad-input Error (as pip's "inconsistent metadata").
//
// Downloads land in `cache_dir/wheels/<sha256>/<filename>` (atomic write, then rename); a file
// whose bytes do not match the index's sha256 is refused (protocol Error) and not kept. Without a
// hash from the index, the file is cached under a key of its URL.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "resolver/pep440.h"
#include "resolver/pip_candidates.h"
#include "resolver/pip_index.h"
#include "resolver/pip_resolve.h"
#include "resolver/wheel_tags.h"

namespace envpack {
class HttpClient;
}

namespace envpack::pip_fetch {

struct Options {
    std::vector<std::string> find_links;  // directories, or URLs of HTML pages
    std::vector<std::string> indexes;     // simple index base URLs (empty: --no-index)
    pep440::Version python;               // the image's python (requires-python)
    pep440::PreReleases pre = pep440::PreReleases::by_specifier;
    std::filesystem::path cache_dir;  // $ENVPACK_HOME/pip
    // `name @ URL` requirements: the normalised name's only file (no page is read for it).
    std::map<std::string, pip_index::IndexFile> direct;
};

// How metadata and files were obtained (for tests and the benchmark).
struct Counters {
    std::size_t pages = 0;
    std::size_t local_metadata = 0;  // read from a local wheel
    std::size_t pep658 = 0;          // `.metadata` files
    std::size_t range_metadata = 0;  // read with range requests
    std::size_t range_requests = 0;
    std::size_t downloads = 0;   // whole wheels fetched over HTTP
    std::size_t cache_hits = 0;  // wheels found in the cache
};

class Finder final : public pip_resolve::Provider {
  public:
    // `http` may be null when every source is a local directory.
    Finder(Options options, wheel::TargetTags tags, HttpClient* http);
    ~Finder() override;

    std::vector<pip_resolve::Release> releases(const std::string& name) override;
    std::vector<pep508::Requirement> requirements(const std::string& name,
                                                  const pip_resolve::Release& release) override;

    // The file behind a release returned by releases().
    const pip_candidates::Candidate& candidate(const std::string& name,
                                               const pip_resolve::Release& release) const;
    // A local path of the release's wheel: the find-links file itself, or the cached download
    // (fetched and checked now when missing). Thread-safe.
    std::filesystem::path wheel_path(const std::string& name, const pip_resolve::Release& release);
    // Files of `name` no version matching could have used, with the reason (sdists, tags).
    std::vector<pip_candidates::Rejection> rejections(const std::string& name) const;
    // Projects looked up that have no usable file at all (only sdists, no matching tag, ...).
    std::vector<std::string> unusable_projects() const;
    Counters counters() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// A local path of the wheel `file` names: a `file://` URL's file (its sha256 checked when `file`
// has one), else `cache_dir/wheels/<sha256>/<filename>`, downloaded with `http` when missing and
// checked. `downloaded` (optional) says whether bytes were fetched. Errors: protocol (hash
// mismatch, nothing kept), HTTP status kinds, network when `http` is null and the file is missing.
std::filesystem::path fetch_wheel(const pip_index::IndexFile& file,
                                  const std::filesystem::path& cache_dir, HttpClient* http,
                                  bool* downloaded = nullptr);

// The sha256 (hex) of a local wheel file, remembered under `cache_dir/local-digests` by the file's
// stat fingerprint (core/file_digest.h), so a --find-links wheel is not read again on every lock
// and build; an empty `cache_dir` reads it every time.
std::string wheel_sha256(const std::filesystem::path& wheel,
                         const std::filesystem::path& cache_dir);

// The `.dist-info/METADATA` of a local wheel file; a bad-input Error naming it when the wheel has
// no single `.dist-info` directory or no METADATA.
std::string wheel_metadata_text(const std::filesystem::path& wheel);

}  // namespace envpack::pip_fetch
