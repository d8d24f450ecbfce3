// Image references in the docker grammar: [HOST[:PORT]/]PATH[:TAG][@sha256:HEX].
//
// `parse` keeps what the user wrote; `to_string` gives it back exactly (round trip) and
// `store_name` is the name the local store records (tag defaulted to `latest`, no registry
// added: `demo/env` -> `demo/env:latest`, `127.0.0.1:5000/team/env:1` unchanged).
// `registry_host` / `remote_repository` give the distribution-API view (docker.io and
// `library/` defaults for single-component names).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/digest.h"

namespace envpack {

class ImageRef {
  public:
    // Throws a bad-input Error naming the reference and what is wrong with it.
    static ImageRef parse(std::string_view text);
    // nullopt and the reason in `why` instead of throwing.
    static std::optional<ImageRef> try_parse(std::string_view text, std::string* why = nullptr);

    // The domain part as written ("" if none was given).
    const std::string& domain() const { return m_domain; }
    // The path as written ("demo/env", "ubuntu").
    const std::string& path() const { return m_path; }
    const std::string& tag() const { return m_tag; }  // "" if none was given
    const std::optional<Digest>& digest() const { return m_digest; }

    // Exactly what was parsed, in canonical order.
    std::string to_string() const;
    // Name in the local store: to_string() with `:latest` when neither tag nor digest was given.
    std::string store_name() const;

    // Distribution API view: "registry-1.docker.io"-style host resolution is the client's job;
    // this returns "docker.io" when no domain was given.
    std::string registry_host() const;
    // "library/ubuntu" for docker.io single-component paths, else the path.
    std::string remote_repository() const;
    // Tag or digest to ask the registry for: digest if any, else tag, else "latest".
    std::string remote_reference() const;

    ImageRef with_tag(std::string tag) const;
    ImageRef with_digest(Digest d) const;

    bool operator==(const ImageRef&) const = default;

  private:
    std::string m_domain;
    std::string m_path;
    std::string m_tag;
    std::optional<Digest> m_digest;
};

}  // namespace envpack
