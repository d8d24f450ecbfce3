// Which of a project's index files can satisfy one requirement in the target image, best first —
// what pip's PackageFinder and its resolver's candidate list decide, as a pure function.
//
// A file is usable when it is a wheel (envpack installs wheels only: source distributions are
// rejected with that reason), its file name parses and names the project, one of its tags fits
// the image (`wheel::TargetTags`), and its `requires-python` admits the image's python (an
// unparsable `requires-python` is ignored, as pip does). Among usable files, the versions the
// specifier set accepts are kept with pip's pre-release rule (`SpecifierSet::filter`). Yanked
// files (PEP 592) are dropped unless every kept file is yanked and the requirement pins a version
// with `==` (not `.*`) or `===`. The result has one file per version, newest version first; for
// each version the file with the best tag rank, then the highest build tag. Every file left out
// before version matching is listed with the reason, for error messages.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "resolver/pep440.h"
#include "resolver/pip_index.h"
#include "resolver/wheel_tags.h"

namespace envpack::pip_candidates {

struct Query {
    std::string project;  // any spelling; compared after PEP 503 normalisation
    pep440::SpecifierSet specifier;
    pep440::PreReleases pre = pep440::PreReleases::by_specifier;
    pep440::Version python;  // the image's python, e.g. 3.11.4
};

struct Candidate {
    pep440::Version version;
    pip_index::IndexFile file;
    wheel::WheelFilename wheel;
    std::size_t tag_rank = 0;  // lower is better
};

struct Rejection {
    std::string filename;
    std::string reason;
};

struct Selection {
    std::vector<Candidate> candidates;  // newest first, one per version
    std::vector<Rejection> rejected;    // files no version matching could have used
};

Selection select(std::span<const pip_index::IndexFile> files, const Query& query,
                 const wheel::TargetTags& tags);

}  // namespace envpack::pip_candidates
