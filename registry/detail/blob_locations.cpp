#include "registry/detail/blob_locations.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace envpack::detail {

using nlohmann::json;

namespace {

json load(const std::filesystem::path& file) {
    std::error_code ec;
    if (file.empty() || !std::filesystem::exists(file, ec)) {
        return json::object();
    }
    try {
        json j = json::parse(read_file(file), nullptr, false);
        return j.is_object() ? j : json::object();
    } catch (const Error&) {
        return json::object();
    }
}

}  // namespace

std::map<Digest, std::string> BlobLocations::for_host(const std::string& host) const {
    std::map<Digest, std::string> out;
    json j = load(m_file);
    if (!j.contains(host) || !j[host].is_object()) {
        return out;
    }
    for (const auto& [digest, repo] : j[host].items()) {
        auto d = Digest::parse(digest);
        if (d && repo.is_string()) {
            out.emplace(*d, repo.get<std::string>());
        }
    }
    return out;
}

void BlobLocations::record(const std::string& host, const std::string& repository,
                           const std::vector<Digest>& blobs) const {
    if (m_file.empty() || blobs.empty()) {
        return;
    }
    try {
        make_dirs(m_file.parent_path());
        FileLock lock(m_file.string() + ".lock", LockMode::exclusive);
        json j = load(m_file);
        if (!j.contains(host) || !j[host].is_object() || j[host].size() > k_max_entries) {
            j[host] = json::object();
        }
        for (const auto& d : blobs) {
            j[host][d.to_string()] = repository;
        }
        write_file_atomic(m_file, j.dump(), Durability::none);
    } catch (const Error&) {
        // a hint cache that cannot be written is not worth failing a push or pull for
    }
}

}  // namespace envpack::detail
