// Conda package files: `.tar.bz2` (a bzip2 tar holding `info/` and the payload) and `.conda` (a zip
// holding `metadata.json`, `info-<stem>.tar.zst` and `pkg-<stem>.tar.zst` at its top level), both
// read with libarchive (core/archive.h).
//
// `extract_conda_package` unpacks either format into a directory that must not exist yet. Entries
// are checked before anything is written: absolute paths, `..` components, hard links or symbolic
// links that lead outside the package root, and entries reached through a symbolic link are refused
// with a bad-input Error naming the package file and the entry. On any error the partly written
// directory is removed, so nothing from a rejected package is ever used.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace envpack {

enum class PackageFormat { tar_bz2, conda };

// From the file name's extension; nullopt for anything else.
std::optional<PackageFormat> package_format(std::string_view file_name);
// The file name without `.conda` / `.tar.bz2` ("zlib-1.2.11-h7b6447c_3").
std::string package_stem(std::string_view file_name);

// Unpacks `archive` into `dest` (created; its parent must exist). Throws Error (bad input for
// unsafe or malformed packages) naming the package and the entry.
void extract_conda_package(const std::filesystem::path& archive, const std::filesystem::path& dest);

// The contents of `member` (e.g. "info/index.json") of a package's info part, read without
// extracting the payload. Throws a bad-input Error naming the package when it is missing.
std::string read_package_info_file(const std::filesystem::path& archive, std::string_view member);

// Lexically resolves symlink `target`, found at relative path `link_path`, against the package
// root: the normalised relative path it points at, or nullopt when it is absolute or climbs out.
std::optional<std::string> resolve_link_inside(std::string_view link_path, std::string_view target);

}  // namespace envpack
