// Private to launcher/: the header line of one item in a hosts transfer stream (`envpack node
// blobs-receive`, `node inputs-receive`): `KIND sha256:HEX SIZE`, the stream ending with `end`.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "core/digest.h"
#include "core/error.h"

namespace envpack::detail {

struct TransferHeader {
    Digest digest;
    std::uint64_t size = 0;
};

// nullopt for `end`; an item of `kind` ("blob", "input") otherwise. Anything else is a bad-input
// Error naming `command` and the line.
inline std::optional<TransferHeader> parse_transfer_header(std::string_view line,
                                                           std::string_view kind,
                                                           std::string_view command) {
    if (line == "end") {
        return std::nullopt;
    }
    const auto sp1 = line.find(' ');
    const auto sp2 = line.rfind(' ');
    if (!line.starts_with(kind) || sp1 != kind.size() || sp1 == sp2) {
        throw Error(fmt::format("{}: malformed header `{}`", command, line), "",
                    ExitCode::bad_input);
    }
    TransferHeader h{Digest::parse_or_throw(line.substr(sp1 + 1, sp2 - sp1 - 1), kind), 0};
    const std::string_view size = line.substr(sp2 + 1);
    if (std::from_chars(size.data(), size.data() + size.size(), h.size).ec != std::errc()) {
        throw Error(fmt::format("{}: malformed size in `{}`", command, line), "",
                    ExitCode::bad_input);
    }
    return h;
}

}  // namespace envpack::detail
