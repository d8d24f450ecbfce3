// The one hasher for every cache key (build cache, layer keys, snapshot digests).
//
// Each field is written with a type tag and length prefixes, so ("ab","c") and ("a","bc") never
// collide, and the schema salt is hashed first so a change of key layout invalidates old keys.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/digest.h"

namespace envpack {

class Hasher {
  public:
    // `schema` names the key's layout and version, e.g. "envpack.layer.v1".
    explicit Hasher(std::string_view schema);

    Hasher& add(std::string_view field, std::string_view value);
    Hasher& add(std::string_view field, const char* value) {
        return add(field, std::string_view(value));
    }
    Hasher& add(std::string_view field, std::int64_t value);
    Hasher& add(std::string_view field, bool value);
    Hasher& add(std::string_view field, const Digest& value);
    // Raw bytes with their own tag (file contents streamed in pieces use `add_bytes` per piece
    // after a `begin_blob(field, total_size)`).
    Hasher& begin_blob(std::string_view field, std::uint64_t total_size);
    Hasher& add_bytes(const void* data, size_t size);

    Digest finish();

  private:
    void put_tag(char tag, std::string_view field);
    void put_u64(std::uint64_t v);
    Sha256 m_sha;
};

}  // namespace envpack
