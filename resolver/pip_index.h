// The files a Python package index lists for one project, read from its page: the PEP 503 HTML
// "simple" page (also what `--find-links` pages are) or the PEP 691 JSON one. Pure parsing:
// fetching, caching and credentials belong to the caller.
//
// What pip reads from each link is kept: the file name (the URL's last path segment,
// percent-decoded), the absolute URL (resolved against the page URL, or the page's `<base
// href>`), the hashes (`#sha256=...` fragment, or JSON `hashes`), `data-requires-python`, yanked
// status and reason (PEP 592), and whether a PEP 658/714 metadata file sits beside it
// (`data-core-metadata`, or the older `data-dist-info-metadata`, with its hash when given).
// HTML entities in attributes are decoded. An HTML page without links yields no files (as pip:
// a page of garbage is a page without files); JSON that is not a PEP 691 project page is a
// protocol Error naming the page.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace envpack::pip_index {

enum class FileKind : unsigned char { wheel, sdist, other };

struct IndexFile {
    std::string filename;
    std::string url;                            // absolute, without the fragment
    std::map<std::string, std::string> hashes;  // algorithm -> lower-case hex digest
    std::string requires_python;                // as given; "" when absent
    std::optional<std::string> yanked;          // the reason ("" when none is given)
    bool has_metadata = false;                  // `url + ".metadata"` exists (PEP 658/714)
    std::map<std::string, std::string> metadata_hashes;
    FileKind kind = FileKind::other;
};

// `.whl` -> wheel; `.tar.gz`, `.zip`, `.tar.bz2`, `.tar.xz`, `.tgz`, `.tbz`, `.tar` -> sdist
// (pip's archive extensions); anything else -> other.
FileKind kind_of(std::string_view filename);

// Resolves `ref` against `base` (RFC 3986 section 5.2, dot segments removed).
std::string join_url(std::string_view base, std::string_view ref);

// Percent-decodes `text` (`%2B` -> `+`); malformed escapes are kept as they are.
std::string percent_decode(std::string_view text);

// Whether a pip list or option value is a URL pip fetches (http, https, file) rather than a path
// or a requirement.
bool is_url(std::string_view text);

// The anchors of a PEP 503 page, in page order.
std::vector<IndexFile> parse_simple_html(std::string_view html, std::string_view page_url);

// The `files` of a PEP 691 project page (`application/vnd.pypi.simple.v1+json`), in order.
std::vector<IndexFile> parse_simple_json(std::string_view json, std::string_view page_url);

}  // namespace envpack::pip_index
