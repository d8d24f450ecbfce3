// Golden-file comparison for launcher tests: `check_golden("plan_mpi.txt", text)` compares with
// tests/unit/launcher/golden/plan_mpi.txt; with ENVPACK_UPDATE_GOLDEN=1 in the environment it
// rewrites the file instead (then review the diff and commit it).
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace envpack::test {

inline std::filesystem::path launcher_test_dir() {
    return std::filesystem::path(ENVPACK_SOURCE_DIR) / "tests" / "unit" / "launcher";
}

inline std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void check_golden(const std::string& name, const std::string& actual) {
    auto path = launcher_test_dir() / "golden" / name;
    const char* update = std::getenv("ENVPACK_UPDATE_GOLDEN");
    if (update != nullptr && std::string(update) == "1") {
        std::ofstream(path, std::ios::binary) << actual;
        WARN("updated golden file " << path.string());
        return;
    }
    INFO("golden file " << path.string() << " (ENVPACK_UPDATE_GOLDEN=1 rewrites it)");
    REQUIRE(std::filesystem::exists(path));
    CHECK(read_text(path) == actual);
}

}  // namespace envpack::test
