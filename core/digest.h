// Content digests (`sha256:<64 hex>`), as OCI descriptors and conda lock files use them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace envpack {

class Digest {
  public:
    Digest() = default;

    // Parses "sha256:<64 lowercase hex>". Returns nullopt for anything else (other algorithms,
    // uppercase, wrong length) so callers can report the operand in their own words.
    static std::optional<Digest> parse(std::string_view text);
    // Like parse, but throws a bad-input Error naming `what` (e.g. "manifest digest").
    static Digest parse_or_throw(std::string_view text, std::string_view what);
    // From a raw 32-byte sha256.
    static Digest from_raw_sha256(const unsigned char* bytes);
    // sha256 of `data`.
    static Digest of(std::string_view data);
    // sha256 of a file's contents (streamed). Throws Error when it cannot be read.
    static Digest of_file(const std::string& path);

    std::string to_string() const { return "sha256:" + m_hex; }
    const std::string& hex() const { return m_hex; }
    std::string_view algorithm() const { return "sha256"; }
    bool empty() const { return m_hex.empty(); }

    auto operator<=>(const Digest&) const = default;

  private:
    std::string m_hex;
};

// Incremental sha256 (OpenSSL EVP). Not copyable; finish() may be called once.
class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;

    void update(const void* data, size_t size);
    void update(std::string_view data) { update(data.data(), data.size()); }
    Digest finish();

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Lowercase hex of `size` bytes.
std::string to_hex(const unsigned char* bytes, size_t size);

}  // namespace envpack
