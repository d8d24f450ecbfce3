#include "resolver/pip_index.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/strings.h"

namespace envpack::pip_index {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

// Decodes the character references an index page uses in attributes.
std::string html_unescape(std::string_view s) {
    static constexpr std::array<std::pair<std::string_view, char>, 5> k_named{
        {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}}};
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '&') {
            out += s[i];
            continue;
        }
        const size_t semi = s.find(';', i);
        if (semi == std::string_view::npos || semi - i > 10) {
            out += s[i];
            continue;
        }
        std::string_view name = s.substr(i + 1, semi - i - 1);
        bool done = false;
        if (name.size() > 1 && name[0] == '#') {
            const bool hex = name[1] == 'x' || name[1] == 'X';
            std::string_view digits = name.substr(hex ? 2 : 1);
            unsigned long cp = 0;
            bool ok = !digits.empty();
            for (char c : digits) {
                const int d = (c >= '0' && c <= '9') ? c - '0'
                              : hex && lower_ascii(c) >= 'a' && lower_ascii(c) <= 'f'
                                  ? lower_ascii(c) - 'a' + 10
                                  : -1;
                if (d < 0 || cp > 0x10FFFF) {
                    ok = false;
                    break;
                }
                cp = cp * (hex ? 16 : 10) + static_cast<unsigned long>(d);
            }
            if (ok) {
                append_utf8(out, static_cast<std::uint32_t>(std::min<unsigned long>(cp, 0x110000)));
                done = true;
            }
        } else {
            for (const auto& [entity, c] : k_named) {
                if (name == entity) {
                    out += c;
                    done = true;
                }
            }
        }
        if (done) {
            i = semi;
        } else {
            out += '&';
        }
    }
    return out;
}

struct UrlParts {
    std::string_view scheme;     // without ':'
    std::string_view authority;  // without '//'
    bool has_authority = false;
    std::string_view path;
    std::string_view rest;  // '?query#fragment' as written
};

UrlParts split_url(std::string_view url) {
    UrlParts p;
    size_t i = 0;
    const size_t colon = url.find(':');
    if (colon != std::string_view::npos && colon > 0 &&
        std::all_of(url.begin(), url.begin() + static_cast<long>(colon),
                    [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                               (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
                    }) &&
        std::isalpha(static_cast<unsigned char>(url[0]))) {
        p.scheme = url.substr(0, colon);
        i = colon + 1;
    }
    if (url.substr(i).starts_with("//")) {
        i += 2;
        const size_t end = url.find_first_of("/?#", i);
        p.authority = url.substr(i, end == std::string_view::npos ? url.size() - i : end - i);
        p.has_authority = true;
        i += p.authority.size();
    }
    const size_t end = url.find_first_of("?#", i);
    p.path = url.substr(i, end == std::string_view::npos ? url.size() - i : end - i);
    p.rest = url.substr(i + p.path.size());
    return p;
}

std::string remove_dot_segments(std::string_view path) {
    std::vector<std::string_view> out;
    const bool absolute = path.starts_with('/');
    size_t start = absolute ? 1 : 0;
    bool trailing = false;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) {
            slash = path.size();
        }
        std::string_view seg = path.substr(start, slash - start);
        const bool last = slash == path.size();
        if (seg == "..") {
            if (!out.empty()) {
                out.pop_back();
            }
            trailing = true;
        } else if (seg == ".") {
            trailing = true;
        } else {
            out.push_back(seg);
            trailing = false;
        }
        if (last) {
            break;
        }
        start = slash + 1;
    }
    std::string joined = absolute ? "/" : "";
    for (size_t k = 0; k < out.size(); ++k) {
        if (k > 0) {
            joined += '/';
        }
        joined += out[k];
    }
    if (trailing && !joined.ends_with('/')) {
        joined += '/';
    }
    return joined;
}

std::string compose(std::string_view scheme, bool has_authority, std::string_view authority,
                    std::string_view path, std::string_view rest) {
    std::string out;
    if (!scheme.empty()) {
        out += fmt::format("{}:", scheme);
    }
    if (has_authority) {
        out += fmt::format("//{}", authority);
    }
    out += path;
    out += rest;
    return out;
}

// pip's `_hash_re` on a link's fragment.
void hashes_from_fragment(std::string_view fragment, std::map<std::string, std::string>& out) {
    for (std::string_view algo : {"sha512", "sha384", "sha256", "sha224", "sha1", "md5"}) {
        const std::string key = fmt::format("{}=", algo);
        const size_t at = fragment.find(key);
        if (at == std::string_view::npos) {
            continue;
        }
        size_t end = at + key.size();
        while (end < fragment.size() && ((fragment[end] >= '0' && fragment[end] <= '9') ||
                                         (fragment[end] >= 'a' && fragment[end] <= 'f'))) {
            ++end;
        }
        if (end > at + key.size()) {
            out.emplace(std::string(algo),
                        std::string(fragment.substr(at + key.size(), end - at - key.size())));
            return;
        }
    }
}

IndexFile file_from_url(std::string_view absolute) {
    IndexFile f;
    const size_t hash = absolute.find('#');
    if (hash != std::string_view::npos) {
        hashes_from_fragment(absolute.substr(hash + 1), f.hashes);
        absolute = absolute.substr(0, hash);
    }
    f.url = std::string(absolute);
    std::string_view path = split_url(absolute).path;
    while (path.ends_with('/')) {
        path.remove_suffix(1);
    }
    const size_t slash = path.rfind('/');
    f.filename = percent_decode(slash == std::string_view::npos ? path : path.substr(slash + 1));
    f.kind = kind_of(f.filename);
    return f;
}

// `true`, or `sha256=...` (PEP 658/714 attribute values).
void metadata_from_attribute(std::string_view value, IndexFile& f) {
    if (value == "true") {
        f.has_metadata = true;
        return;
    }
    const size_t eq = value.find('=');
    if (eq != std::string_view::npos && eq > 0) {
        f.has_metadata = true;
        f.metadata_hashes.emplace(std::string(value.substr(0, eq)),
                                  std::string(value.substr(eq + 1)));
    }
}

struct HtmlTag {
    std::string name;                                             // lower case
    std::vector<std::pair<std::string, std::string>> attributes;  // name lower case, value decoded
    const std::string* get(std::string_view key) const {
        for (const auto& [k, v] : attributes) {
            if (k == key) {
                return &v;
            }
        }
        return nullptr;
    }
};

// Reads the tag starting at html[i] == '<'; advances i past it.
std::optional<HtmlTag> read_tag(std::string_view html, size_t& i) {
    if (html.substr(i).starts_with("<!--")) {
        const size_t end = html.find("-->", i + 4);
        i = end == std::string_view::npos ? html.size() : end + 3;
        return std::nullopt;
    }
    ++i;
    HtmlTag tag;
    while (i < html.size() && (std::isalnum(static_cast<unsigned char>(html[i])) ||
                               html[i] == '/' || html[i] == '!')) {
        tag.name += lower_ascii(html[i++]);
    }
    while (i < html.size() && html[i] != '>') {
        if (is_space(html[i]) || html[i] == '/') {
            ++i;
            continue;
        }
        std::string key;
        while (i < html.size() && !is_space(html[i]) && html[i] != '=' && html[i] != '>' &&
               html[i] != '/') {
            key += lower_ascii(html[i++]);
        }
        while (i < html.size() && is_space(html[i])) {
            ++i;
        }
        std::string value;
        if (i < html.size() && html[i] == '=') {
            ++i;
            while (i < html.size() && is_space(html[i])) {
                ++i;
            }
            if (i < html.size() && (html[i] == '"' || html[i] == '\'')) {
                const char quote = html[i++];
                const size_t end = html.find(quote, i);
                const size_t stop = end == std::string_view::npos ? html.size() : end;
                value = html_unescape(html.substr(i, stop - i));
                i = std::min(stop + 1, html.size());
            } else {
                const size_t start = i;
                while (i < html.size() && !is_space(html[i]) && html[i] != '>') {
                    ++i;
                }
                value = html_unescape(html.substr(start, i - start));
            }
        }
        if (!key.empty()) {
            tag.attributes.emplace_back(std::move(key), std::move(value));
        }
    }
    if (i < html.size()) {
        ++i;  // '>'
    }
    return tag;
}

}  // namespace

FileKind kind_of(std::string_view filename) {
    const std::string low = to_lower(filename);
    if (low.ends_with(".whl")) {
        return FileKind::wheel;
    }
    for (std::string_view ext : {".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tbz", ".tar",
                                 ".tbz2", ".txz", ".tlz", ".tar.lz", ".tar.lzma"}) {
        if (low.ends_with(ext)) {
            return FileKind::sdist;
        }
    }
    return FileKind::other;
}

bool is_url(std::string_view text) {
    return text.starts_with("http://") || text.starts_with("https://") ||
           text.starts_with("file://");
}

std::string percent_decode(std::string_view text) {
    auto hex = [](char c) -> int {
        c = lower_ascii(c);
        return (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    };
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 &&
            hex(text[i + 2]) >= 0) {
            out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string join_url(std::string_view base, std::string_view ref) {
    const UrlParts r = split_url(ref);
    if (!r.scheme.empty()) {
        return compose(r.scheme, r.has_authority, r.authority, remove_dot_segments(r.path), r.rest);
    }
    const UrlParts b = split_url(base);
    if (r.has_authority) {
        return compose(b.scheme, true, r.authority, remove_dot_segments(r.path), r.rest);
    }
    if (r.path.empty()) {
        std::string_view rest = r.rest;
        if (rest.empty() || rest.front() == '#') {
            // Keep the base's query, replace its fragment.
            std::string_view base_rest = b.rest.substr(0, b.rest.find('#'));
            return compose(b.scheme, b.has_authority, b.authority, b.path,
                           fmt::format("{}{}", base_rest, rest));
        }
        return compose(b.scheme, b.has_authority, b.authority, b.path, rest);
    }
    if (r.path.front() == '/') {
        return compose(b.scheme, b.has_authority, b.authority, remove_dot_segments(r.path), r.rest);
    }
    std::string merged;
    if (b.has_authority && b.path.empty()) {
        merged = fmt::format("/{}", r.path);
    } else {
        const size_t slash = b.path.rfind('/');
        merged = fmt::format(
            "{}{}", slash == std::string_view::npos ? "" : b.path.substr(0, slash + 1), r.path);
    }
    return compose(b.scheme, b.has_authority, b.authority, remove_dot_segments(merged), r.rest);
}

std::vector<IndexFile> parse_simple_html(std::string_view html, std::string_view page_url) {
    std::vector<IndexFile> files;
    std::string base(page_url);
    size_t i = 0;
    bool base_seen = false;
    while ((i = html.find('<', i)) != std::string_view::npos) {
        auto tag = read_tag(html, i);
        if (!tag) {
            continue;
        }
        if (tag->name == "base" && !base_seen) {
            if (const auto* href = tag->get("href")) {
                base = join_url(page_url, *href);
                base_seen = true;
            }
            continue;
        }
        if (tag->name != "a") {
            continue;
        }
        const auto* href = tag->get("href");
        if (href == nullptr || href->empty()) {
            continue;
        }
        IndexFile f = file_from_url(join_url(base, *href));
        if (const auto* rp = tag->get("data-requires-python")) {
            f.requires_python = *rp;
        }
        if (const auto* y = tag->get("data-yanked")) {
            f.yanked = *y;
        }
        if (const auto* m = tag->get("data-core-metadata")) {
            metadata_from_attribute(*m, f);
        } else if (const auto* m2 = tag->get("data-dist-info-metadata")) {
            metadata_from_attribute(*m2, f);
        }
        if (!f.filename.empty()) {
            files.push_back(std::move(f));
        }
    }
    return files;
}

std::vector<IndexFile> parse_simple_json(std::string_view json, std::string_view page_url) {
    auto bad = [&](std::string_view why) {
        return protocol_error(
            fmt::format("the index page `{}` is not a PEP 691 project page: {}", page_url, why),
            "check --index-url; envpack asks for application/vnd.pypi.simple.v1+json and "
            "reads text/html as PEP 503");
    };
    nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
    if (doc.is_discarded()) {
        throw bad("it is not JSON");
    }
    if (!doc.is_object() || !doc.contains("files") || !doc["files"].is_array()) {
        throw bad("no `files` list");
    }
    std::vector<IndexFile> files;
    for (const auto& entry : doc["files"]) {
        if (!entry.is_object() || !entry.contains("url") || !entry["url"].is_string() ||
            !entry.contains("filename") || !entry["filename"].is_string()) {
            throw bad("a file without `url` or `filename`");
        }
        IndexFile f = file_from_url(join_url(page_url, entry["url"].get<std::string>()));
        f.filename = entry["filename"].get<std::string>();
        f.kind = kind_of(f.filename);
        if (entry.contains("hashes") && entry["hashes"].is_object()) {
            f.hashes.clear();
            for (const auto& [algo, digest] : entry["hashes"].items()) {
                if (digest.is_string()) {
                    f.hashes[algo] = digest.get<std::string>();
                }
            }
        }
        if (entry.contains("requires-python") && entry["requires-python"].is_string()) {
            f.requires_python = entry["requires-python"].get<std::string>();
        }
        if (entry.contains("yanked")) {
            const auto& y = entry["yanked"];
            if (y.is_string()) {
                f.yanked = y.get<std::string>();
            } else if (y.is_boolean() && y.get<bool>()) {
                f.yanked = "";
            }
        }
        for (const char* key : {"core-metadata", "dist-info-metadata", "data-dist-info-metadata"}) {
            if (!entry.contains(key)) {
                continue;
            }
            const auto& m = entry[key];
            if (m.is_boolean()) {
                f.has_metadata = m.get<bool>();
            } else if (m.is_object()) {
                f.has_metadata = true;
                for (const auto& [algo, digest] : m.items()) {
                    if (digest.is_string()) {
                        f.metadata_hashes[algo] = digest.get<std::string>();
                    }
                }
            }
            break;
        }
        files.push_back(std::move(f));
    }
    return files;
}

}  // namespace envpack::pip_index
