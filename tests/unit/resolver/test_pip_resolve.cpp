// Backtracking resolution over an in-memory index.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "resolver/pip_resolve.h"

using namespace envpack;
using pip_resolve::Release;

namespace {

// name -> version -> Requires-Dist lines.
class FakeIndex : public pip_resolve::Provider {
  public:
    FakeIndex& add(const std::string& name, const std::string& version,
                   std::vector<std::string> requires_dist = {}) {
        m_releases[name].push_back({version, std::move(requires_dist)});
        return *this;
    }
    std::vector<Release> releases(const std::string& name) override {
        std::vector<Release> out;
        auto it = m_releases.find(name);
        if (it != m_releases.end()) {
            for (size_t k = 0; k < it->second.size(); ++k) {
                out.push_back({pep440::Version::parse(it->second[k].first), k});
            }
        }
        return out;
    }
    std::vector<pep508::Requirement> requirements(const std::string& name,
                                                  const Release& release) override {
        ++m_metadata_reads;
        std::vector<pep508::Requirement> out;
        for (const auto& line : m_releases.at(name).at(release.handle).second) {
            out.push_back(pep508::Requirement::parse(line));
        }
        return out;
    }
    int m_metadata_reads = 0;

  private:
    std::map<std::string, std::vector<std::pair<std::string, std::vector<std::string>>>> m_releases;
};

pip_resolve::Options options() {
    pip_resolve::Options o;
    o.environment = pep508::Environment::for_target(pep440::Version::parse("3.11.4"), "linux-64");
    return o;
}

std::vector<pep508::Requirement> reqs(std::initializer_list<const char*> lines) {
    std::vector<pep508::Requirement> out;
    for (const char* l : lines) {
        out.push_back(pep508::Requirement::parse(l));
    }
    return out;
}

std::string pins(const std::vector<pip_resolve::Pin>& p) {
    std::vector<std::string> out;
    for (const auto& pin : p) {
        out.push_back(pin.name + "==" + pin.release.version.to_string());
    }
    std::sort(out.begin(), out.end());
    return fmt::format("{}", fmt::join(out, " "));
}

}  // namespace

TEST_CASE("pip_resolve: newest versions, dependencies, extras and markers") {
    FakeIndex index;
    index.add("app", "1.0", {"lib>=1"})
        .add("app", "2.0",
             {"lib>=2", "extra-dep; extra == 'full'", "old-py; python_version < '3.8'"})
        .add("lib", "1.0")
        .add("lib", "2.0")
        .add("lib", "3.0b1")
        .add("extra-dep", "0.5")
        .add("old-py", "1.0");
    auto r = pip_resolve::resolve(reqs({"App"}), index, options());
    REQUIRE(r);
    CHECK(pins(*r) == "app==2.0 lib==2.0");
    auto full = pip_resolve::resolve(reqs({"app[Full]"}), index, options());
    REQUIRE(full);
    CHECK(pins(*full) == "app==2.0 extra-dep==0.5 lib==2.0");
    // Extras asked for later still bring their dependencies.
    auto later = pip_resolve::resolve(reqs({"app", "lib", "app[full]"}), index, options());
    REQUIRE(later);
    CHECK(pins(*later) == "app==2.0 extra-dep==0.5 lib==2.0");
    // Pre-releases only when asked for.
    auto pre = pip_resolve::resolve(reqs({"lib>=3.0a1"}), index, options());
    REQUIRE(pre);
    CHECK(pins(*pre) == "lib==3.0b1");
}

TEST_CASE("pip_resolve: a dead end backtracks to an older release") {
    FakeIndex index;
    index.add("a", "1.0", {"c<2"})
        .add("a", "2.0", {"c>=2", "b==1.0"})
        .add("b", "1.0", {"c<2"})
        .add("c", "1.0")
        .add("c", "2.0");
    auto r = pip_resolve::resolve(reqs({"a", "b"}), index, options());
    REQUIRE(r);
    CHECK(pins(*r) == "a==1.0 b==1.0 c==1.0");
}

TEST_CASE("pip_resolve: conflicts are explained with where each requirement came from") {
    FakeIndex index;
    index.add("a", "1.0", {"c>=2"}).add("b", "1.0", {"c<2"}).add("c", "1.0").add("c", "2.0");
    auto r = pip_resolve::resolve(reqs({"a", "b"}), index, options());
    REQUIRE_FALSE(r);
    const std::string& why = r.error().explanation;
    CHECK(why.find("no version of c satisfies") != std::string::npos);
    CHECK(why.find("a 1.0 requires c>=2") != std::string::npos);
    CHECK(why.find("b 1.0 requires c<2") != std::string::npos);
    CHECK(why.find("available: 1.0, 2.0") != std::string::npos);

    auto missing = pip_resolve::resolve(reqs({"nothere>=1"}), index, options());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().explanation.find("no usable release") != std::string::npos);
}

TEST_CASE("pip_resolve: packages conda installed are fixed") {
    FakeIndex index;
    index.add("app", "1.0", {"numpy>=1.20"}).add("old", "1.0", {"numpy<1.20"}).add("numpy", "9.9");
    auto o = options();
    o.installed.emplace("numpy", pep440::Version::parse("1.26.4"));
    auto r = pip_resolve::resolve(reqs({"app"}), index, o);
    REQUIRE(r);
    CHECK(pins(*r) == "app==1.0");  // numpy is conda's, not pinned from the index
    auto bad = pip_resolve::resolve(reqs({"old"}), index, o);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().explanation ==
          "numpy 1.26.4 is installed by conda, but old 1.0 requires numpy<1.20");
}
