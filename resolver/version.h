// A conda package version, ordered by CEP 33 (conda's `VersionOrder`).
//
// A version is `[EPOCH!]VERSION[+LOCAL]`; VERSION and LOCAL are split on `.` (and `_`, and `-`
// when the string has no `_`) into segments, each segment into runs of digits and non-digits.
// Ordering promises (the same as conda's): comparison is case-insensitive; a missing segment or
// component compares as 0 (`1.1 == 1.1.0`); a segment that starts with a letter gets an implicit
// leading 0 (`1.1.a1 == 1.1.0a1`); strings sort before numbers; `dev` sorts before every other
// string (`1.0dev < 1.0a < 1.0`); `post` sorts after everything (`1.0 < 1.0post1 < 1.0.1`); a
// trailing `_` is kept as a string component (`1.0.1_ < 1.0.1a`, openssl style).
//
// `parse` throws a bad-input Error on an invalid version; `to_string` gives the text as written
// (so round trips are exact), `normalized` the lower-cased form conda compares.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace envpack {

class Version {
  public:
    // One run of digits or non-digits inside a segment.
    struct Atom {
        enum class Kind : std::uint8_t { string = 0, number = 1, post = 2 };
        Kind kind = Kind::number;
        std::string text;  // digits without leading zeros for numbers, lower-case text for
                           // strings ("DEV" for dev, so that it sorts before other strings)
    };
    using Segment = std::vector<Atom>;

    Version() = default;

    static Version parse(std::string_view text);
    // Like parse, but returns false instead of throwing.
    static bool try_parse(std::string_view text, Version& out);

    const std::string& to_string() const { return m_text; }
    const std::string& normalized() const { return m_normalized; }
    std::uint64_t epoch() const { return m_epoch; }
    const std::vector<Segment>& segments() const { return m_version; }
    const std::vector<Segment>& local() const { return m_local; }

    // CEP 33 ordering; equality follows the ordering (`1.1 == 1.1.0`).
    std::strong_ordering operator<=>(const Version& other) const;
    bool operator==(const Version& other) const { return (*this <=> other) == 0; }

    // True when this version starts with `prefix` in conda's sense (`=1.7` / `1.7.*`):
    // 1.7.1, 1.7rc1 and 1.7 start with 1.7; 1.70 does not.
    bool starts_with(const Version& prefix) const;
    // `~=` (compatible release): >= other, and starts with `other` minus its last segment.
    bool compatible_with(const Version& other) const;

  private:
    void set_fast_key();

    std::string m_text;
    std::string m_normalized;
    std::uint64_t m_epoch = 0;
    std::vector<Segment> m_version;  // epoch excluded
    std::vector<Segment> m_local;
    // Versions of up to four plain numbers below 65536 (most of a channel's) also compare as one
    // integer: 16 bits per segment, missing segments 0, exactly as the full comparison orders them.
    std::uint64_t m_fast_key = 0;
    bool m_has_fast_key = false;
};

}  // namespace envpack
