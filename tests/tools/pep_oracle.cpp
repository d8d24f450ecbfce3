// Test-only driver: answers questions about PEP 440 / 508 / 425 the way envpack's resolver does,
// one line per question on stdin (fields separated by \x1f, the ASCII unit separator), one answer
// line on stdout, so that tests/tools/pip_packaging_oracle.py can compare envpack with Python's
// `packaging` on large generated tables. Not installed; not part of envpack's interface.
//
//   V <version>                      -> normalized, is_pre, is_post, is_dev, public, base | invalid
//   O <a> <b>                        -> < | = | >
//   S <specifiers> <version>         -> contains (default), contains (pre-releases allowed) as
//                                       two digits | invalid
//   F <specifiers> <v1 v2 ...>       -> indices kept by filter (default rule), space-separated
//   M <python> <platform> <extra> <marker> -> 1 | 0 | error | invalid
//   R <requirement>                  -> str(Requirement) | invalid
//   T <python> <platform> <glibc>    -> the target's tags, space-separated
//   W <wheel file name>              -> normalized name, version, build, tags | invalid
#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "resolver/pep440.h"
#include "resolver/pep508.h"
#include "resolver/wheel_tags.h"

using namespace envpack;

namespace {

std::vector<std::string> fields(const std::string& line) {
    std::vector<std::string> out;
    std::string field;
    std::istringstream in(line);
    while (std::getline(in, field, '\x1f')) {
        out.push_back(field);
    }
    if (!line.empty() && line.back() == '\x1f') {
        out.emplace_back();
    }
    return out;
}

std::string answer(const std::vector<std::string>& f) {
    const std::string& cmd = f.at(0);
    if (cmd == "V") {
        auto v = pep440::Version::try_parse(f.at(1));
        if (!v) {
            return "invalid";
        }
        return fmt::format("{}\t{}\t{}\t{}\t{}\t{}", v->to_string(), int(v->is_prerelease()),
                           int(v->is_postrelease()), int(v->is_devrelease()),
                           v->public_version().to_string(), v->base_version().to_string());
    }
    if (cmd == "O") {
        auto c = pep440::Version::parse(f.at(1)) <=> pep440::Version::parse(f.at(2));
        return c < 0 ? "<" : c > 0 ? ">" : "=";
    }
    if (cmd == "S") {
        auto s = pep440::SpecifierSet::try_parse(f.at(1));
        if (!s) {
            return "invalid";
        }
        auto v = pep440::Version::parse(f.at(2));
        return fmt::format("{}{}", int(s->contains(v)),
                           int(s->contains(v, pep440::PreReleases::allow)));
    }
    if (cmd == "F") {
        auto s = pep440::SpecifierSet::parse(f.at(1));
        std::vector<pep440::Version> versions;
        std::istringstream in(f.at(2));
        std::string word;
        while (in >> word) {
            versions.push_back(pep440::Version::parse(word));
        }
        return fmt::format("{}", fmt::join(s.filter(versions), " "));
    }
    if (cmd == "M") {
        auto env = pep508::Environment::for_target(pep440::Version::parse(f.at(1)), f.at(2));
        auto m = pep508::Marker::try_parse(f.at(4));
        if (!m) {
            return "invalid";
        }
        try {
            return m->evaluate(env, f.at(3)) ? "1" : "0";
        } catch (const Error&) {
            return "error";
        }
    }
    if (cmd == "R") {
        auto r = pep508::Requirement::try_parse(f.at(1));
        return r ? r->to_string() : "invalid";
    }
    if (cmd == "T") {
        wheel::TargetTags tags(
            wheel::Target::for_image(pep440::Version::parse(f.at(1)), f.at(2), f.at(3)));
        std::vector<std::string> out;
        for (const auto& t : tags.tags()) {
            out.push_back(t.to_string());
        }
        return fmt::format("{}", fmt::join(out, " "));
    }
    if (cmd == "W") {
        auto w = wheel::WheelFilename::try_parse(f.at(1));
        if (!w) {
            return "invalid";
        }
        std::vector<std::string> tags;
        for (const auto& t : w->tags) {
            tags.push_back(t.to_string());
        }
        std::sort(tags.begin(), tags.end());
        const std::string build =
            w->build ? fmt::format("{}|{}", w->build->number, w->build->rest) : "";
        return fmt::format("{}\t{}\t{}\t{}", w->normalized_name(), w->version.to_string(), build,
                           fmt::join(tags, " "));
    }
    return "unknown-command";
}

}  // namespace

int main() {
    std::ios::sync_with_stdio(false);
    std::string line;
    while (std::getline(std::cin, line)) {
        std::string out;
        try {
            out = answer(fields(line));
        } catch (const std::exception& e) {
            out = fmt::format("exception: {}", e.what());
            for (char& c : out) {
                if (c == '\n' || c == '\t') {
                    c = ' ';
                }
            }
        }
        std::cout << out << '\n';
    }
    return 0;
}
