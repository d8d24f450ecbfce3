#include "resolver/detail/repodata_record.h"

#include <algorithm>

#include <fmt/format.h>

namespace envpack::detail {
namespace {

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
    split_feature_text(s.string(), out);
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

// `fn` without its `.conda` / `.tar.bz2` suffix.
std::string_view package_stem(std::string_view fn) {
    if (fn.ends_with(".conda")) {
        fn.remove_suffix(6);
    } else if (fn.ends_with(".tar.bz2")) {
        fn.remove_suffix(8);
    }
    return fn;
}

}  // namespace

std::int64_t timestamp_ms(std::int64_t timestamp) {
    // conda's rule: a timestamp above year 9999 in seconds is already in milliseconds.
    constexpr std::int64_t k_max_seconds_timestamp = 253402300799;
    return timestamp > 0 && timestamp <= k_max_seconds_timestamp ? timestamp * 1000 : timestamp;
}

std::size_t drop_tar_bz2_twins(std::vector<PackageRecord>& records) {
    bool have_conda = false;
    bool have_tar = false;
    for (const auto& r : records) {
        have_conda = have_conda || r.fn.ends_with(".conda");
        have_tar = have_tar || r.fn.ends_with(".tar.bz2");
    }
    if (!have_conda || !have_tar) {
        return 0;
    }
    std::vector<bool> drop(records.size(), false);
    {
        // A sorted array rather than a hash set: one allocation instead of one per record.
        std::vector<std::string_view> conda_stems;  // views into records' file names
        for (const auto& r : records) {
            if (r.fn.ends_with(".conda")) {
                conda_stems.push_back(package_stem(r.fn));
            }
        }
        std::sort(conda_stems.begin(), conda_stems.end());
        for (std::size_t i = 0; i < records.size(); ++i) {
            const std::string& fn = records[i].fn;
            drop[i] = fn.ends_with(".tar.bz2") &&
                      std::binary_search(conda_stems.begin(), conda_stems.end(), package_stem(fn));
        }
    }
    // Compact in place: a second vector would double peak memory on large repodata.
    std::size_t w = 0;
    std::size_t dropped = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (drop[i]) {
            ++dropped;
            continue;
        }
        if (w != i) {
            records[w] = std::move(records[i]);
        }
        ++w;
    }
    records.erase(records.begin() + static_cast<std::ptrdiff_t>(w), records.end());
    return dropped;
}

void split_feature_text(std::string_view text, std::vector<std::string>& out) {
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
    r.timestamp = timestamp_ms(r.timestamp);
}

}  // namespace envpack::detail
