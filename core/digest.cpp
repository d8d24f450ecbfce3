#include "core/digest.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include <openssl/evp.h>

#include "core/error.h"

namespace envpack {

std::string to_hex(const unsigned char* bytes, size_t size) {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out(size * 2, '\0');
    for (size_t i = 0; i < size; ++i) {
        out[2 * i] = k_hex[bytes[i] >> 4];
        out[2 * i + 1] = k_hex[bytes[i] & 0xf];
    }
    return out;
}

std::optional<Digest> Digest::parse(std::string_view text) {
    constexpr std::string_view k_prefix = "sha256:";
    if (!text.starts_with(k_prefix) || text.size() != k_prefix.size() + 64) {
        return std::nullopt;
    }
    std::string_view hex = text.substr(k_prefix.size());
    for (char c : hex) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return std::nullopt;
        }
    }
    Digest d;
    d.m_hex = std::string(hex);
    return d;
}

Digest Digest::parse_or_throw(std::string_view text, std::string_view what) {
    auto d = parse(text);
    if (!d) {
        throw bad_input(fmt::format("{} `{}` is not a sha256 digest", what, text),
                        "expected sha256: followed by 64 lowercase hex digits");
    }
    return *d;
}

Digest Digest::from_raw_sha256(const unsigned char* bytes) {
    Digest d;
    d.m_hex = to_hex(bytes, 32);
    return d;
}

Digest Digest::of(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.finish();
}

Digest Digest::of_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw_errno("open", path, errno);
    }
    Sha256 h;
    constexpr size_t k_buffer = 1 << 20;
    // Not zero-filled: read() overwrites it (a zeroed MiB per file was visible in profiles).
    auto buf = std::make_unique_for_overwrite<char[]>(k_buffer);
    for (;;) {
        ssize_t n = ::read(fd, buf.get(), k_buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int err = errno;
            ::close(fd);
            throw_errno("read", path, err);
        }
        if (n == 0) {
            break;
        }
        h.update(buf.get(), static_cast<size_t>(n));
    }
    ::close(fd);
    return h.finish();
}

struct Sha256::Impl {
    EVP_MD_CTX* ctx = nullptr;
    ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : m_impl(std::make_unique<Impl>()) {
    m_impl->ctx = EVP_MD_CTX_new();
    if (m_impl->ctx == nullptr || EVP_DigestInit_ex(m_impl->ctx, EVP_sha256(), nullptr) != 1) {
        throw Error("sha256: cannot initialise OpenSSL digest context");
    }
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t size) {
    if (size > 0) {
        EVP_DigestUpdate(m_impl->ctx, data, size);
    }
}

Digest Sha256::finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(m_impl->ctx, out, &len);
    return Digest::from_raw_sha256(out);
}

}  // namespace envpack
