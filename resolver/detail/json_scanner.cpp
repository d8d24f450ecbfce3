#include "resolver/detail/json_scanner.h"

#include <cstring>

#include <fmt/format.h>

#include "core/error.h"
#include "core/strings.h"

namespace envpack::detail {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace

void JsonScanner::fail(std::string_view message) const {
    // Line and column are counted only here, on the error path.
    int line = 1;
    const char* line_start = m_begin;
    const char* stop = m_p < m_end ? m_p : m_end;
    for (const char* q = m_begin; q < stop; ++q) {
        if (*q == '\n') {
            ++line;
            line_start = q + 1;
        }
    }
    std::string where = m_p >= m_end ? std::string("at end of data (truncated?)")
                                     : fmt::format("at line {} column {} (byte {})", line,
                                                   stop - line_start + 1, offset());
    throw Error(fmt::format("parse repodata `{}`: {}: {}", m_source, where, message),
                "the repodata is malformed or truncated; fetch it again (delete the cached copy) "
                "or fix the channel's repodata.json");
}

void JsonScanner::fail_type(std::string_view what, std::string_view expected) const {
    fail(fmt::format("{} must be {}", what, expected));
}

void JsonScanner::expect(char c) {
    if (peek() != c) {
        if (m_p >= m_end) {
            fail(fmt::format("expected `{}`", c));
        }
        fail(fmt::format("expected `{}`, found `{}`", c, *m_p));
    }
    ++m_p;
}

bool JsonScanner::next(char close, bool first) {
    char c = peek();
    if (c == close) {
        ++m_p;
        return false;
    }
    if (!first) {
        if (c != ',') {
            if (m_p >= m_end) {
                fail(fmt::format("expected `,` or `{}`", close));
            }
            fail(fmt::format("expected `,` or `{}`, found `{}`", close, c));
        }
        ++m_p;
    }
    return true;
}

std::string_view JsonScanner::string() {
    expect('"');
    const char* start = m_p;
    const char* quote = static_cast<const char*>(std::memchr(m_p, '"', m_end - m_p));
    if (quote == nullptr) {
        m_p = m_end;
        fail("unterminated string");
    }
    const char* bs = static_cast<const char*>(std::memchr(start, '\\', quote - start));
    if (bs == nullptr) {
        m_p = quote + 1;
        m_escaped = false;
        return {start, static_cast<size_t>(quote - start)};
    }
    m_escaped = true;
    m_scratch.assign(start, bs);
    m_p = bs;
    while (true) {
        if (m_p >= m_end) {
            fail("unterminated string");
        }
        char c = *m_p++;
        if (c == '"') {
            return m_scratch;
        }
        if (c != '\\') {
            m_scratch += c;
            continue;
        }
        if (m_p >= m_end) {
            fail("unterminated string");
        }
        char e = *m_p++;
        switch (e) {
            case '"':
                m_scratch += '"';
                break;
            case '\\':
                m_scratch += '\\';
                break;
            case '/':
                m_scratch += '/';
                break;
            case 'b':
                m_scratch += '\b';
                break;
            case 'f':
                m_scratch += '\f';
                break;
            case 'n':
                m_scratch += '\n';
                break;
            case 'r':
                m_scratch += '\r';
                break;
            case 't':
                m_scratch += '\t';
                break;
            case 'u': {
                auto read4 = [this]() -> std::uint32_t {
                    if (m_end - m_p < 4) {
                        fail("truncated \\u escape");
                    }
                    std::uint32_t v = 0;
                    for (int i = 0; i < 4; ++i) {
                        int h = hex_value(m_p[i]);
                        if (h < 0) {
                            fail("bad \\u escape");
                        }
                        v = v * 16 + static_cast<std::uint32_t>(h);
                    }
                    m_p += 4;
                    return v;
                };
                std::uint32_t cp = read4();
                if (cp >= 0xD800 && cp < 0xDC00 && m_end - m_p >= 6 && m_p[0] == '\\' &&
                    m_p[1] == 'u') {
                    m_p += 2;
                    std::uint32_t lo = read4();
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        fail("bad surrogate pair");
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                append_utf8(m_scratch, cp);
                break;
            }
            default:
                --m_p;
                fail(fmt::format("bad escape `\\{}`", e));
        }
    }
}

std::int64_t JsonScanner::integer() {
    char c = peek();
    bool negative = false;
    if (c == '-') {
        negative = true;
        ++m_p;
    }
    if (m_p >= m_end || *m_p < '0' || *m_p > '9') {
        fail("expected a number");
    }
    std::int64_t v = 0;
    while (m_p < m_end && *m_p >= '0' && *m_p <= '9') {
        if (v > (INT64_MAX - 9) / 10) {
            fail("number out of range");
        }
        v = v * 10 + (*m_p++ - '0');
    }
    if (m_p < m_end && *m_p == '.') {
        ++m_p;
        while (m_p < m_end && *m_p >= '0' && *m_p <= '9') {
            ++m_p;
        }
    }
    if (m_p < m_end && (*m_p == 'e' || *m_p == 'E')) {
        ++m_p;
        if (m_p < m_end && (*m_p == '+' || *m_p == '-')) {
            ++m_p;
        }
        int exp = 0;
        while (m_p < m_end && *m_p >= '0' && *m_p <= '9') {
            exp = exp * 10 + (*m_p++ - '0');
            if (exp > 18) {
                fail("number out of range");
            }
        }
        while (exp-- > 0) {
            v *= 10;
        }
    }
    return negative ? -v : v;
}

void JsonScanner::literal(std::string_view word) {
    if (static_cast<size_t>(m_end - m_p) < word.size() ||
        std::memcmp(m_p, word.data(), word.size()) != 0) {
        fail("invalid literal");
    }
    m_p += word.size();
}

bool JsonScanner::is_null() {
    if (peek() == 'n') {
        literal("null");
        return true;
    }
    return false;
}

void JsonScanner::skip_value() {
    // Iterative with an explicit stack of open brackets, so hostile nesting cannot overflow the
    // call stack.
    std::string stack;
    while (true) {
        char c = peek();
        switch (c) {
            case '{':
            case '[':
                ++m_p;
                if (peek() == (c == '{' ? '}' : ']')) {
                    ++m_p;
                    break;
                }
                stack += c;
                if (c == '{') {
                    string();
                    expect(':');
                }
                continue;
            case '"':
                string();
                break;
            case 't':
                literal("true");
                break;
            case 'f':
                literal("false");
                break;
            case 'n':
                literal("null");
                break;
            case '\0':
                fail("unexpected end of data");
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    integer();
                    break;
                }
                fail(fmt::format("unexpected `{}`", c));
        }
        // A complete value: inside a container, a comma and the next, or the close.
        while (!stack.empty()) {
            char open = stack.back();
            char close = open == '{' ? '}' : ']';
            char n = peek();
            if (n == close) {
                ++m_p;
                stack.pop_back();
                continue;
            }
            if (n != ',') {
                fail(fmt::format("expected `,` or `{}`", close));
            }
            ++m_p;
            if (open == '{') {
                string();
                expect(':');
            }
            break;
        }
        if (stack.empty()) {
            return;
        }
    }
}

}  // namespace envpack::detail
