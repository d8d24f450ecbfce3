#include "resolver/pip_candidates.h"

#include <algorithm>

#include <fmt/format.h>

#include "resolver/pep508.h"

namespace envpack::pip_candidates {
namespace {

// `==V` (not a wildcard) or `===V` somewhere in the set (pip's `is_pinned`).
bool is_pinned(const pep440::SpecifierSet& set) {
    return std::any_of(set.specifiers().begin(), set.specifiers().end(),
                       [](const pep440::Specifier& s) {
                           return s.op() == pep440::Operator::arbitrary ||
                                  (s.op() == pep440::Operator::equal && !s.is_wildcard());
                       });
}

}  // namespace

Selection select(std::span<const pip_index::IndexFile> files, const Query& query,
                 const wheel::TargetTags& tags) {
    Selection out;
    const std::string project = pep508::normalize_name(query.project);
    std::vector<Candidate> usable;
    for (const auto& file : files) {
        auto reject = [&](std::string reason) {
            out.rejected.push_back({file.filename, std::move(reason)});
        };
        if (file.kind == pip_index::FileKind::sdist) {
            reject("a source distribution; envpack installs wheels only");
            continue;
        }
        if (file.kind != pip_index::FileKind::wheel) {
            reject("not a wheel");
            continue;
        }
        auto wheel = wheel::WheelFilename::try_parse(file.filename);
        if (!wheel) {
            reject("not a valid wheel file name");
            continue;
        }
        if (wheel->normalized_name() != project) {
            reject(fmt::format("a wheel of `{}`, not `{}`", wheel->normalized_name(), project));
            continue;
        }
        auto rank = tags.best_rank(*wheel);
        if (!rank) {
            reject(tags.why_incompatible(*wheel));
            continue;
        }
        if (!file.requires_python.empty()) {
            auto requires_python = pep440::SpecifierSet::try_parse(file.requires_python);
            if (requires_python && !requires_python->contains(query.python)) {
                reject(fmt::format("it requires python {}; the image has {}", file.requires_python,
                                   query.python.to_string()));
                continue;
            }
        }
        usable.push_back(Candidate{wheel->version, file, std::move(*wheel), *rank});
    }

    std::vector<pep440::Version> versions;
    versions.reserve(usable.size());
    for (const auto& c : usable) {
        versions.push_back(c.version);
    }
    std::vector<Candidate> applicable;
    for (size_t k : query.specifier.filter(versions, query.pre)) {
        applicable.push_back(std::move(usable[k]));
    }
    std::stable_sort(
        applicable.begin(), applicable.end(), [](const Candidate& a, const Candidate& b) {
            if (a.version != b.version) {
                return a.version > b.version;
            }
            if (a.tag_rank != b.tag_rank) {
                return a.tag_rank < b.tag_rank;
            }
            return a.wheel.build > b.wheel.build;  // a build tag beats none, a higher one a lower
        });
    const bool all_yanked =
        std::all_of(applicable.begin(), applicable.end(),
                    [](const Candidate& c) { return c.file.yanked.has_value(); });
    const bool keep_yanked = all_yanked && is_pinned(query.specifier);
    for (auto& c : applicable) {
        if (c.file.yanked && !keep_yanked) {
            continue;
        }
        if (!out.candidates.empty() && out.candidates.back().version == c.version) {
            continue;
        }
        out.candidates.push_back(std::move(c));
    }
    return out;
}

}  // namespace envpack::pip_candidates
