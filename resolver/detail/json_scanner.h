// A minimal pull scanner over JSON bytes, for repodata: strings (with escapes), integers, null,
// booleans, skipping any value. No allocation except when a string has escapes. Private to
// resolver/.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace envpack::detail {

class JsonScanner {
  public:
    // `on_consumed(offset)` is called now and then with an offset before which the caller no
    // longer needs the bytes (lets a memory-mapped reader hand pages back).
    // Scanning starts at byte `start` of `text`; errors still count lines from the beginning.
    JsonScanner(std::string_view text, std::string_view source, std::size_t start = 0)
        : m_begin(text.data()),
          m_p(text.data() + start),
          m_end(text.data() + text.size()),
          m_source(source) {}

    // Skips whitespace and returns the next byte without consuming it ('\0' at the end).
    char peek() {
        while (m_p < m_end && (*m_p == ' ' || *m_p == '\n' || *m_p == '\r' || *m_p == '\t')) {
            ++m_p;
        }
        return m_p < m_end ? *m_p : '\0';
    }
    // Consumes `c` after whitespace or fails with "expected `c`".
    void expect(char c);
    // After an opening `{`/`[` was consumed: true if another member/element follows (consumes
    // the `,` between them), false when the closing `close` is consumed.
    bool next(char close, bool first);
    // A string; the view points into the input, or into an internal buffer when it had escapes
    // (valid until the next call).
    std::string_view string();
    // True when the last string() had escapes (its view is then into the internal buffer).
    bool last_string_escaped() const { return m_escaped; }
    // A JSON number as a 64-bit integer (a fraction or exponent is truncated).
    std::int64_t integer();
    bool is_null();  // consumes `null` if it is next
    void skip_value();

    [[noreturn]] void fail(std::string_view message) const;
    [[noreturn]] void fail_type(std::string_view what, std::string_view expected) const;
    std::size_t offset() const { return static_cast<std::size_t>(m_p - m_begin); }

  private:
    void literal(std::string_view word);
    const char* m_begin;
    const char* m_p;
    const char* m_end;
    std::string_view m_source;
    std::string m_scratch;
    bool m_escaped = false;
};

}  // namespace envpack::detail
