#include "registry/reference.h"

#include <cctype>

#include <fmt/format.h>

#include "core/error.h"

namespace envpack {

namespace {

bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)* ; separator := [_.] | __ | [-]+
bool valid_component(std::string_view c) {
    if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) {
        return false;
    }
    for (size_t i = 0; i < c.size(); ++i) {
        char ch = c[i];
        if (is_lower_alnum(ch)) {
            continue;
        }
        if (ch == '.' || ch == '_') {
            // "_" may be doubled ("__"); "." may not; neither next to "-".
            if (ch == '_' && i + 1 < c.size() && c[i + 1] == '_' && i + 2 < c.size() &&
                is_lower_alnum(c[i + 2])) {
                ++i;
                continue;
            }
            if (i + 1 < c.size() && is_lower_alnum(c[i + 1])) {
                continue;
            }
            return false;
        }
        if (ch == '-') {
            continue;  // runs of '-' allowed; ends checked above
        }
        return false;
    }
    for (size_t i = 0; i + 1 < c.size(); ++i) {
        if (c[i] == '-' && (c[i + 1] == '.' || c[i + 1] == '_')) {
            return false;
        }
    }
    return true;
}

bool valid_tag(std::string_view t) {
    if (t.empty() || t.size() > 128) {
        return false;
    }
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    if (!word(t[0])) {
        return false;
    }
    for (char c : t) {
        if (!word(c) && c != '.' && c != '-') {
            return false;
        }
    }
    return true;
}

bool valid_domain(std::string_view d) {
    if (d.empty()) {
        return false;
    }
    std::string_view host = d;
    if (auto colon = d.rfind(':'); colon != std::string_view::npos && d.front() != '[') {
        std::string_view port = d.substr(colon + 1);
        if (port.empty()) {
            return false;
        }
        for (char c : port) {
            if (!std::isdigit(static_cast<unsigned char>(c))) {
                return false;
            }
        }
        host = d.substr(0, colon);
    }
    if (host.empty()) {
        return false;
    }
    for (char c : host) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '[' &&
            c != ']' && c != ':') {
            return false;
        }
    }
    return true;
}

}  // namespace

std::optional<ImageRef> ImageRef::try_parse(std::string_view text, std::string* why) {
    auto fail = [&](std::string reason) -> std::optional<ImageRef> {
        if (why != nullptr) {
            *why = std::move(reason);
        }
        return std::nullopt;
    };
    if (text.empty()) {
        return fail("the reference is empty");
    }
    if (text.size() > 255 + 128 + 80) {
        return fail("the reference is too long");
    }
    ImageRef ref;
    std::string_view rest = text;
    if (auto at = rest.find('@'); at != std::string_view::npos) {
        auto d = Digest::parse(rest.substr(at + 1));
        if (!d) {
            return fail(fmt::format("`{}` is not a sha256 digest", rest.substr(at + 1)));
        }
        ref.m_digest = *d;
        rest = rest.substr(0, at);
    }
    // The domain is the first component when it has a '.', a ':', or is "localhost", or has
    // uppercase.
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        std::string_view first = rest.substr(0, slash);
        bool is_domain = first == "localhost" || first.find('.') != std::string_view::npos ||
                         first.find(':') != std::string_view::npos;
        for (char c : first) {
            is_domain = is_domain || std::isupper(static_cast<unsigned char>(c));
        }
        if (is_domain) {
            if (!valid_domain(first)) {
                return fail(fmt::format("`{}` is not a valid registry host", first));
            }
            ref.m_domain = std::string(first);
            rest = rest.substr(slash + 1);
        }
    }
    if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        std::string_view tag = rest.substr(colon + 1);
        if (!valid_tag(tag)) {
            return fail(
                fmt::format("`{}` is not a valid tag (letters, digits, _ . -, at most 128)", tag));
        }
        ref.m_tag = std::string(tag);
        rest = rest.substr(0, colon);
    }
    if (rest.empty()) {
        return fail("the repository name is empty");
    }
    size_t start = 0;
    while (start <= rest.size()) {
        size_t end = rest.find('/', start);
        if (end == std::string_view::npos) {
            end = rest.size();
        }
        std::string_view comp = rest.substr(start, end - start);
        if (!valid_component(comp)) {
            return fail(
                fmt::format("`{}` is not a valid repository name component (lowercase letters, "
                            "digits, and . _ - between them)",
                            comp));
        }
        start = end + 1;
    }
    ref.m_path = std::string(rest);
    return ref;
}

ImageRef ImageRef::parse(std::string_view text) {
    std::string why;
    auto r = try_parse(text, &why);
    if (!r) {
        throw bad_input(
            fmt::format("invalid image reference `{}`: {}", text, why),
            "write references as [HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST], e.g. demo/env:1");
    }
    return *r;
}

std::string ImageRef::to_string() const {
    std::string s = m_domain.empty() ? m_path : m_domain + "/" + m_path;
    if (!m_tag.empty()) {
        s += ":" + m_tag;
    }
    if (m_digest) {
        s += "@" + m_digest->to_string();
    }
    return s;
}

std::string ImageRef::store_name() const {
    if (m_tag.empty() && !m_digest) {
        return with_tag("latest").to_string();
    }
    return to_string();
}

std::string ImageRef::registry_host() const {
    return m_domain.empty() ? "docker.io" : m_domain;
}

std::string ImageRef::remote_repository() const {
    if ((m_domain.empty() || m_domain == "docker.io") && m_path.find('/') == std::string::npos) {
        return "library/" + m_path;
    }
    return m_path;
}

std::string ImageRef::remote_reference() const {
    if (m_digest) {
        return m_digest->to_string();
    }
    return m_tag.empty() ? "latest" : m_tag;
}

ImageRef ImageRef::with_tag(std::string tag) const {
    ImageRef r = *this;
    r.m_tag = std::move(tag);
    return r;
}

ImageRef ImageRef::with_digest(Digest d) const {
    ImageRef r = *this;
    r.m_digest = std::move(d);
    return r;
}

}  // namespace envpack
