#include "resolver/pip_metadata.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack::pip_metadata {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    auto low = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [&](char x, char y) { return low(x) == low(y); });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

const Header* find(const std::vector<Header>& headers, std::string_view key) {
    for (const auto& h : headers) {
        if (iequals(h.key, key)) {
            return &h;
        }
    }
    return nullptr;
}

const Header& require(const std::vector<Header>& headers, std::string_view key,
                      std::string_view source) {
    if (const Header* h = find(headers, key)) {
        return *h;
    }
    throw bad_input(fmt::format("{}: no `{}` header", source, key),
                    "the wheel's metadata is incomplete; rebuild the wheel");
}

}  // namespace

std::vector<Header> parse_headers(std::string_view text, std::string_view source) {
    std::vector<Header> out;
    int line_no = 0;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.empty()) {
            break;  // the body follows
        }
        if (line.front() == ' ' || line.front() == '\t') {
            if (out.empty()) {
                throw bad_input(
                    fmt::format("{}:{}: a continuation line before any header", source, line_no));
            }
            out.back().value += fmt::format("\n{}", trim(line));
            continue;
        }
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            throw bad_input(
                fmt::format("{}:{}: `{}` is not a `Key: value` header", source, line_no, line));
        }
        out.push_back(Header{std::string(trim(line.substr(0, colon))),
                             std::string(trim(line.substr(colon + 1))), line_no});
    }
    return out;
}

CoreMetadata CoreMetadata::parse(std::string_view text, std::string_view source) {
    const auto headers = parse_headers(text, source);
    CoreMetadata m;
    m.metadata_version = require(headers, "Metadata-Version", source).value;
    m.name = require(headers, "Name", source).value;
    const Header& version = require(headers, "Version", source);
    auto v = pep440::Version::try_parse(version.value);
    if (!v) {
        throw bad_input(fmt::format("{}:{}: `{}` is not a PEP 440 version", source, version.line,
                                    version.value));
    }
    m.version = *v;
    if (const Header* rp = find(headers, "Requires-Python")) {
        m.requires_python = rp->value;
    }
    for (const auto& h : headers) {
        if (iequals(h.key, "Requires-Dist")) {
            auto r = pep508::Requirement::try_parse(h.value);
            if (!r) {
                throw bad_input(fmt::format("{}:{}: invalid Requires-Dist: {}", source, h.line,
                                            pep508::describe(r.error(), h.value)));
            }
            m.requires_dist.push_back(std::move(*r));
        } else if (iequals(h.key, "Provides-Extra")) {
            m.provides_extra.push_back(h.value);
        }
    }
    return m;
}

std::vector<pep508::Requirement> CoreMetadata::dependencies(
    const pep508::Environment& env, const std::vector<std::string>& extras) const {
    std::vector<pep508::Requirement> out;
    for (const auto& r : requires_dist) {
        if (r.applies(env, extras)) {
            out.push_back(r);
        }
    }
    return out;
}

WheelInfo WheelInfo::parse(std::string_view text, std::string_view source) {
    const auto headers = parse_headers(text, source);
    WheelInfo w;
    const Header& version = require(headers, "Wheel-Version", source);
    w.wheel_version = version.value;
    if (!w.wheel_version.starts_with("1.") && w.wheel_version != "1") {
        throw bad_input(fmt::format("{}:{}: Wheel-Version {} is not supported (1.x is)", source,
                                    version.line, w.wheel_version));
    }
    if (const Header* p = find(headers, "Root-Is-Purelib")) {
        w.root_is_purelib = iequals(p->value, "true");
    }
    for (const auto& h : headers) {
        if (iequals(h.key, "Tag")) {
            w.tags.push_back(h.value);
        }
    }
    return w;
}

}  // namespace envpack::pip_metadata
