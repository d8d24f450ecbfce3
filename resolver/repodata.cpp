#include "resolver/repodata.h"

#include <sys/mman.h>

#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "resolver/detail/json_scanner.h"
#include "resolver/detail/mapped_file.h"

namespace envpack {
namespace {

using detail::JsonScanner;

// conda's rule: a timestamp above year 9999 in seconds is already in milliseconds.
constexpr std::int64_t k_max_seconds_timestamp = 253402300799;
// How far behind the scan a memory-mapped input is handed back to the kernel.
constexpr std::size_t k_release_step = 16u << 20;

using ReleaseFn = std::function<void(std::size_t)>;

void read_string(JsonScanner& s, std::string& out, std::string_view field) {
    char c = s.peek();
    if (c == '"') {
        out.assign(s.string());
    } else if (c == 'n' && s.is_null()) {
        out.clear();
    } else {
        s.fail_type(fmt::format("`{}`", field), "a string");
    }
}

void read_string_list(JsonScanner& s, std::vector<std::string>& out, std::string_view field) {
    if (s.is_null()) {
        return;
    }
    if (s.peek() != '[') {
        s.fail_type(fmt::format("`{}`", field), "a list of strings or null");
    }
    s.expect('[');
    // Collect views first and allocate the vector once: growing it element by element costs
    // more in malloc/free than the rest of the parse on large repodata.
    thread_local std::vector<std::string_view> views;
    thread_local std::vector<std::string> escaped;  // owners for strings that had escapes
    views.clear();
    escaped.clear();
    for (bool first = true; s.next(']', first); first = false) {
        if (s.peek() != '"') {
            s.fail_type(fmt::format("an entry of `{}`", field), "a string");
        }
        std::string_view v = s.string();
        if (s.last_string_escaped()) {
            escaped.reserve(16);
            if (escaped.size() == escaped.capacity()) {
                // Keep earlier views valid: never let `escaped` reallocate under them.
                out.insert(out.end(), views.begin(), views.end());
                views.clear();
                escaped.clear();
            }
            v = escaped.emplace_back(v);
        }
        views.push_back(v);
    }
    out.reserve(out.size() + views.size());
    for (auto v : views) {
        out.emplace_back(v);
    }
}

// track_features / features: "a b", "a,b", a list, or null.
void read_feature_list(JsonScanner& s, std::vector<std::string>& out, std::string_view field) {
    if (s.peek() != '"') {
        read_string_list(s, out, field);
        return;
    }
    std::string_view text = s.string();
    size_t i = 0;
    while (i < text.size()) {
        size_t j = text.find_first_of(" ,", i);
        if (j == std::string_view::npos) {
            j = text.size();
        }
        if (j > i) {
            out.emplace_back(text.substr(i, j - i));
        }
        i = j + 1;
    }
}

std::int64_t read_int(JsonScanner& s, std::string_view field) {
    char c = s.peek();
    if (c == 'n' && s.is_null()) {
        return 0;
    }
    if (c != '-' && (c < '0' || c > '9')) {
        s.fail_type(fmt::format("`{}`", field), "a number");
    }
    return s.integer();
}

bool key_is(std::string_view key, std::string_view want) {
    return key == want;
}

void read_record(JsonScanner& s, PackageRecord& r, std::string_view fn) {
    if (s.peek() != '{') {
        s.fail_type(fmt::format("package `{}`", fn), "an object");
    }
    s.expect('{');
    bool have_name = false;
    bool have_version = false;
    for (bool first = true; s.next('}', first); first = false) {
        if (s.peek() != '"') {
            s.fail("expected a key");
        }
        std::string_view key = s.string();
        // `key` may point into the scanner's scratch buffer: compare before reading the value.
        s.expect(':');
        switch (key.size()) {
            case 2:
                if (key_is(key, "fn")) {
                    s.skip_value();  // the map key is authoritative
                    continue;
                }
                break;
            case 3:
                if (key_is(key, "md5")) {
                    read_string(s, r.md5, "md5");
                    continue;
                }
                if (key_is(key, "url")) {
                    // Read, but replaced by the channel's own URL below when there is one (as
                    // conda, mamba and rattler do: a mirrored channel must not send downloads
                    // elsewhere).
                    read_string(s, r.url, "url");
                    continue;
                }
                break;
            case 4:
                if (key_is(key, "name")) {
                    read_string(s, r.name, "name");
                    have_name = true;
                    continue;
                }
                if (key_is(key, "size")) {
                    r.size = static_cast<std::uint64_t>(read_int(s, "size"));
                    continue;
                }
                break;
            case 5:
                if (key_is(key, "build")) {
                    read_string(s, r.build, "build");
                    continue;
                }
                break;
            case 6:
                if (key_is(key, "sha256")) {
                    read_string(s, r.sha256, "sha256");
                    continue;
                }
                if (key_is(key, "subdir")) {
                    read_string(s, r.subdir, "subdir");
                    continue;
                }
                if (key_is(key, "noarch")) {
                    char c = s.peek();
                    if (c == 't' || c == 'f') {
                        // Legacy boolean noarch: true means generic.
                        s.skip_value();
                        r.noarch = c == 't' ? "generic" : "";
                    } else {
                        read_string(s, r.noarch, "noarch");
                    }
                    continue;
                }
                break;
            case 7:
                if (key_is(key, "version")) {
                    read_string(s, r.version, "version");
                    have_version = true;
                    continue;
                }
                if (key_is(key, "depends")) {
                    read_string_list(s, r.depends, "depends");
                    continue;
                }
                if (key_is(key, "license")) {
                    read_string(s, r.license, "license");
                    continue;
                }
                break;
            case 8:
                if (key_is(key, "features")) {
                    read_feature_list(s, r.features, "features");
                    continue;
                }
                break;
            case 9:
                if (key_is(key, "timestamp")) {
                    r.timestamp = read_int(s, "timestamp");
                    continue;
                }
                break;
            case 10:
                if (key_is(key, "constrains")) {
                    read_string_list(s, r.constrains, "constrains");
                    continue;
                }
                break;
            case 12:
                if (key_is(key, "build_number")) {
                    r.build_number = read_int(s, "build_number");
                    continue;
                }
                break;
            case 14:
                if (key_is(key, "track_features")) {
                    read_feature_list(s, r.track_features, "track_features");
                    continue;
                }
                break;
            default:
                break;
        }
        s.skip_value();
    }
    if (!have_name || r.name.empty()) {
        s.fail(fmt::format("package `{}` has no `name`", fn));
    }
    if (!have_version || r.version.empty()) {
        s.fail(fmt::format("package `{}` has no `version`", fn));
    }
    if (r.timestamp > 0 && r.timestamp <= k_max_seconds_timestamp) {
        r.timestamp *= 1000;
    }
}

// Large record arrays are written once, front to back: 2 MiB pages save tens of thousands of
// page faults (only pages actually touched become resident, as with small pages).
void advise_huge_pages(void* data, std::size_t bytes) {
    constexpr std::uintptr_t k_huge = 2u << 20;
    if (bytes < 16 * k_huge) {
        return;
    }
    auto begin = (reinterpret_cast<std::uintptr_t>(data) + k_huge - 1) & ~(k_huge - 1);
    auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(k_huge - 1);
    if (end > begin) {
        ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
    }
}

std::string_view stem_of(std::string_view fn) {
    if (fn.ends_with(".conda")) {
        fn.remove_suffix(6);
    } else if (fn.ends_with(".tar.bz2")) {
        fn.remove_suffix(8);
    }
    return fn;
}

Repodata parse_impl(std::string_view json, std::string_view source, const RepodataOrigin& origin,
                    const ReleaseFn& release) {
    JsonScanner s(json, source);
    Repodata out;
    out.subdir = origin.subdir;
    if (s.peek() != '{') {
        if (s.peek() == '\0') {
            s.fail("empty document");
        }
        s.fail("repodata must be a JSON object");
    }
    s.expect('{');
    // An upper bound on the record count (no real record is under ~120 bytes of JSON); pages of
    // the reservation that are never written cost no memory.
    out.records.reserve(json.size() / 120 + 16);
    advise_huge_pages(out.records.data(), out.records.capacity() * sizeof(PackageRecord));
    std::size_t released = 0;
    std::size_t first_conda = SIZE_MAX;
    bool have_tar = false;
    for (bool first = true; s.next('}', first); first = false) {
        if (s.peek() != '"') {
            s.fail("expected a key");
        }
        std::string key(s.string());
        s.expect(':');
        if (key == "info") {
            if (s.is_null()) {
                continue;
            }
            if (s.peek() != '{') {
                s.fail_type("`info`", "an object");
            }
            s.expect('{');
            for (bool f = true; s.next('}', f); f = false) {
                std::string k(s.string());
                s.expect(':');
                if (k == "subdir" && s.peek() == '"') {
                    out.subdir = s.string();
                } else {
                    s.skip_value();
                }
            }
            continue;
        }
        bool conda = key == "packages.conda";
        if (!conda && key != "packages") {
            s.skip_value();  // signatures, removed, repodata_version, anything new
            continue;
        }
        if (s.is_null()) {
            continue;
        }
        if (s.peek() != '{') {
            s.fail_type(fmt::format("`{}`", key), "an object of file name -> package");
        }
        s.expect('{');
        if (conda && first_conda == SIZE_MAX) {
            first_conda = out.records.size();
        }
        for (bool f = true; s.next('}', f); f = false) {
            if (s.peek() != '"') {
                s.fail("expected a package file name");
            }
            PackageRecord& r = out.records.emplace_back();
            r.fn = s.string();
            s.expect(':');
            read_record(s, r, r.fn);
            if (!conda) {
                have_tar = true;
            }
            if (r.subdir.empty()) {
                r.subdir = out.subdir;
            }
            r.channel = origin.channel;
            if (!origin.base_url.empty()) {
                r.url.clear();
                r.url.reserve(origin.base_url.size() + 1 + r.fn.size());
                r.url.append(origin.base_url).append("/").append(r.fn);
            }
            if (release && s.offset() - released > k_release_step) {
                released = s.offset();
                release(released);
            }
        }
    }
    if (s.peek() != '\0') {
        s.fail("unexpected data after the repodata object");
    }
    if (first_conda != SIZE_MAX && have_tar) {
        std::vector<bool> drop(out.records.size(), false);
        {
            // A sorted array rather than a hash set: one allocation instead of one per record.
            std::vector<std::string_view> conda_stems;  // views into records' file names
            for (const auto& r : out.records) {
                if (r.fn.ends_with(".conda")) {
                    conda_stems.push_back(stem_of(r.fn));
                }
            }
            std::sort(conda_stems.begin(), conda_stems.end());
            for (std::size_t i = 0; i < out.records.size(); ++i) {
                const std::string& fn = out.records[i].fn;
                drop[i] = fn.ends_with(".tar.bz2") &&
                          std::binary_search(conda_stems.begin(), conda_stems.end(), stem_of(fn));
            }
        }
        // Compact in place: a second vector would double peak memory on large repodata.
        auto& records = out.records;
        std::size_t w = 0;
        for (std::size_t i = 0; i < records.size(); ++i) {
            if (drop[i]) {
                ++out.replaced_tar_bz2;
                continue;
            }
            if (w != i) {
                records[w] = std::move(records[i]);
            }
            ++w;
        }
        records.erase(records.begin() + static_cast<std::ptrdiff_t>(w), records.end());
    }
    return out;
}

}  // namespace

Repodata parse_repodata(std::string_view json, std::string_view source,
                        const RepodataOrigin& origin) {
    return parse_impl(json, source, origin, {});
}

RepodataEncoding repodata_encoding(std::string_view file_name) {
    if (file_name.ends_with(".zst")) {
        return RepodataEncoding::zstd;
    }
    if (file_name.ends_with(".bz2")) {
        return RepodataEncoding::bzip2;
    }
    return RepodataEncoding::json;
}

Repodata read_repodata_file(const std::filesystem::path& path, const RepodataOrigin& origin) {
    RepodataEncoding encoding = repodata_encoding(path.filename().string());
    if (encoding == RepodataEncoding::json) {
        detail::MappedFile file(path);
        return parse_impl(file.view(), path.string(), origin,
                          [&file](std::size_t offset) { file.release_before(offset); });
    }
    std::string json = decode_repodata(read_file(path), encoding, path.string());
    return parse_repodata(json, path.string(), origin);
}

}  // namespace envpack
