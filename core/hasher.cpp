#include "core/hasher.h"

namespace envpack {

Hasher::Hasher(std::string_view schema) {
    put_tag('S', schema);
}

void Hasher::put_u64(std::uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) {
        b[i] = static_cast<unsigned char>(v >> (8 * i));
    }
    m_sha.update(b, sizeof b);
}

void Hasher::put_tag(char tag, std::string_view field) {
    m_sha.update(&tag, 1);
    put_u64(field.size());
    m_sha.update(field);
}

Hasher& Hasher::add(std::string_view field, std::string_view value) {
    put_tag('s', field);
    put_u64(value.size());
    m_sha.update(value);
    return *this;
}

Hasher& Hasher::add(std::string_view field, std::int64_t value) {
    put_tag('i', field);
    put_u64(static_cast<std::uint64_t>(value));
    return *this;
}

Hasher& Hasher::add(std::string_view field, bool value) {
    put_tag('b', field);
    char c = value ? 1 : 0;
    m_sha.update(&c, 1);
    return *this;
}

Hasher& Hasher::add(std::string_view field, const Digest& value) {
    put_tag('d', field);
    std::string s = value.to_string();
    put_u64(s.size());
    m_sha.update(s);
    return *this;
}

Hasher& Hasher::begin_blob(std::string_view field, std::uint64_t total_size) {
    put_tag('B', field);
    put_u64(total_size);
    return *this;
}

Hasher& Hasher::add_bytes(const void* data, size_t size) {
    m_sha.update(data, size);
    return *this;
}

Digest Hasher::finish() {
    return m_sha.finish();
}

}  // namespace envpack
