#include "core/netrc.h"

#include <cstdlib>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/http.h"
#include "core/strings.h"

namespace envpack {
namespace {

struct Token {
    std::string text;
    int line = 0;
};

// Splits into tokens, dropping comments and `macdef` bodies.
std::vector<Token> tokenize(std::string_view text) {
    std::vector<Token> out;
    int line = 1;
    size_t i = 0;
    bool in_macdef = false;
    while (i < text.size()) {
        const char c = text[i];
        if (in_macdef) {
            // A macro body runs to the first empty line.
            if (c == '\n' && i + 1 < text.size() && text[i + 1] == '\n') {
                in_macdef = false;
            }
            line += c == '\n' ? 1 : 0;
            ++i;
            continue;
        }
        if (c == '\n') {
            ++line;
            ++i;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            ++i;
            continue;
        }
        if (c == '#') {
            while (i < text.size() && text[i] != '\n') {
                ++i;
            }
            continue;
        }
        Token t;
        t.line = line;
        if (c == '"') {
            ++i;
            while (i < text.size() && text[i] != '"') {
                if (text[i] == '\\' && i + 1 < text.size()) {
                    ++i;
                }
                line += text[i] == '\n' ? 1 : 0;
                t.text.push_back(text[i++]);
            }
            ++i;  // the closing quote
        } else {
            while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\r' &&
                   text[i] != '\n') {
                t.text.push_back(text[i++]);
            }
        }
        if (!out.empty() && out.back().text == "macdef" && t.line == out.back().line) {
            // `macdef NAME`: the body starts on the next line.
            out.pop_back();
            in_macdef = true;
            while (i < text.size() && text[i] != '\n') {
                ++i;
            }
            continue;
        }
        out.push_back(std::move(t));
    }
    return out;
}

}  // namespace

Netrc Netrc::parse(std::string_view text, std::string_view file) {
    Netrc out;
    const std::vector<Token> tokens = tokenize(text);
    NetrcEntry* current = nullptr;
    NetrcEntry default_entry;
    bool have_default = false;
    for (size_t i = 0; i < tokens.size(); ++i) {
        const std::string& key = tokens[i].text;
        if (key == "default") {
            have_default = true;
            current = &default_entry;
            continue;
        }
        if (key != "machine" && key != "login" && key != "password" && key != "account") {
            continue;  // unknown tokens are skipped, as curl does
        }
        if (i + 1 >= tokens.size()) {
            throw bad_input(fmt::format("{}:{}: `{}` without a value", file, tokens[i].line, key),
                            "each of machine, login, password and account takes a value");
        }
        const std::string& value = tokens[++i].text;
        if (key == "machine") {
            out.m_entries.push_back({to_lower(value), "", ""});
            current = &out.m_entries.back();
        } else if (current == nullptr) {
            continue;  // a login before any machine belongs to no host
        } else if (key == "login") {
            current->login = value;
        } else if (key == "password") {
            current->password = value;
        }
    }
    if (have_default) {
        out.m_default = std::move(default_entry);
    }
    return out;
}

Netrc Netrc::read(const std::filesystem::path& path) {
    std::error_code ec;
    if (path.empty() || !std::filesystem::is_regular_file(path, ec)) {
        return {};
    }
    return parse(read_file(path), path.string());
}

std::filesystem::path Netrc::default_path() {
    if (const char* n = std::getenv("NETRC"); n != nullptr && *n != '\0') {
        return n;
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        return std::filesystem::path(home) / ".netrc";
    }
    return {};
}

const Netrc& Netrc::from_environment() {
    static const Netrc netrc = read(default_path());
    return netrc;
}

std::optional<NetrcEntry> Netrc::find(std::string_view host) const {
    const std::string h = to_lower(host);
    for (const auto& e : m_entries) {
        if (e.machine == h) {
            return e;
        }
    }
    return m_default;
}

std::optional<std::string> netrc_authorization(const Netrc& netrc, std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) {
        return std::nullopt;
    }
    const std::string_view authority =
        url.substr(scheme + 3, url.find('/', scheme + 3) - scheme - 3);
    if (authority.find('@') != std::string_view::npos ||
        url.find("/t/") != std::string_view::npos) {
        return std::nullopt;  // the URL brings its own credentials
    }
    auto entry = netrc.find(url_host(url));
    if (!entry || entry->login.empty()) {
        return std::nullopt;
    }
    return "Basic " + base64_encode(entry->login + ":" + entry->password);
}

HttpRequest netrc_request(std::string url) {
    HttpRequest request;
    if (auto auth = netrc_authorization(Netrc::from_environment(), url)) {
        request.headers.emplace_back("Authorization", *auth);
    }
    request.url = std::move(url);
    return request;
}

}  // namespace envpack
