#include "resolver/repodata.h"

#include <sys/mman.h>

#include <algorithm>
#include <functional>
#include <future>
#include <optional>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/thread_pool.h"
#include "resolver/detail/json_scanner.h"
#include "resolver/detail/mapped_file.h"
#include "resolver/detail/repodata_record.h"

namespace envpack {
namespace {

using detail::JsonScanner;

// How far behind the scan a memory-mapped input is handed back to the kernel.
constexpr std::size_t k_release_step = 16u << 20;

// Called with byte ranges of the input that are no longer needed.
using ReleaseFn = std::function<void(std::size_t, std::size_t)>;

// Large record arrays are written once, front to back: 2 MiB pages save tens of thousands of
// page faults (only pages actually touched become resident, as with small pages).
void advise_huge_pages(void* data, std::size_t bytes) {
    constexpr std::uintptr_t k_huge = 2u << 20;
    if (bytes < 16 * k_huge) {
        return;
    }
    auto begin = (reinterpret_cast<std::uintptr_t>(data) + k_huge - 1) & ~(k_huge - 1);
    auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(k_huge - 1);
    if (end > begin) {
        ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
    }
}

// What one thread read: the records of its stretch of the document, in order.
struct Piece {
    std::vector<PackageRecord> records;
    std::optional<std::string> info_subdir;
    // Where it stopped: the opening quote of the first record key at or past its limit, or npos
    // when it read to the end of the document.
    std::size_t stop = std::string_view::npos;
};

// Reads from a scanner positioned inside a `packages`/`packages.conda` object. Splitting the
// document between threads happens only at record keys, so every piece starts and stops there.
class PieceReader {
  public:
    PieceReader(std::string_view json, std::string_view source, const RepodataOrigin& origin,
                std::size_t start, std::size_t limit, const ReleaseFn& release)
        : m_s(json, source, start),
          m_origin(origin),
          m_limit(limit),
          m_released(start),
          m_release(release) {}

    // From the document's start.
    Piece read_document(std::size_t records_hint) {
        m_piece.records.reserve(records_hint);
        advise_huge_pages(m_piece.records.data(),
                          m_piece.records.capacity() * sizeof(PackageRecord));
        if (m_s.peek() != '{') {
            if (m_s.peek() == '\0') {
                m_s.fail("empty document");
            }
            m_s.fail("repodata must be a JSON object");
        }
        m_s.expect('{');
        if (read_top_level(true)) {
            finish();
        }
        return std::move(m_piece);
    }

    // From a record key inside a packages object (its opening quote).
    Piece read_from_record(std::size_t records_hint) {
        m_piece.records.reserve(records_hint);
        if (read_section(true) && read_top_level(false)) {
            finish();
        }
        return std::move(m_piece);
    }

  private:
    // False when it stopped at the limit.
    bool read_top_level(bool first) {
        for (bool f = first; m_s.next('}', f); f = false) {
            if (m_s.peek() != '"') {
                m_s.fail("expected a key");
            }
            std::string key(m_s.string());
            m_s.expect(':');
            if (key == "info") {
                read_info();
                continue;
            }
            if (key != "packages" && key != "packages.conda") {
                m_s.skip_value();  // signatures, removed, repodata_version, anything new
                continue;
            }
            if (m_s.is_null()) {
                continue;
            }
            if (m_s.peek() != '{') {
                m_s.fail_type(fmt::format("`{}`", key), "an object of file name -> package");
            }
            m_s.expect('{');
            if (!read_section(true)) {
                return false;
            }
        }
        return true;
    }

    void read_info() {
        if (m_s.is_null()) {
            return;
        }
        if (m_s.peek() != '{') {
            m_s.fail_type("`info`", "an object");
        }
        m_s.expect('{');
        for (bool f = true; m_s.next('}', f); f = false) {
            std::string k(m_s.string());
            m_s.expect(':');
            if (k == "subdir" && m_s.peek() == '"') {
                m_piece.info_subdir = std::string(m_s.string());
            } else {
                m_s.skip_value();
            }
        }
    }

    // False when it stopped at the limit (before a record key).
    bool read_section(bool first) {
        for (bool f = first; m_s.next('}', f); f = false) {
            if (m_s.peek() != '"') {
                m_s.fail("expected a package file name");
            }
            if (m_s.offset() >= m_limit) {
                m_piece.stop = m_s.offset();
                return false;
            }
            PackageRecord& r = m_piece.records.emplace_back();
            r.fn = m_s.string();
            m_s.expect(':');
            detail::read_record(m_s, r, r.fn);
            r.channel = m_origin.channel;
            if (!m_origin.base_url.empty()) {
                r.url.clear();
                r.url.reserve(m_origin.base_url.size() + 1 + r.fn.size());
                r.url.append(m_origin.base_url).append("/").append(r.fn);
            }
            if (m_release && m_s.offset() - m_released > k_release_step) {
                m_release(m_released, m_s.offset());
                m_released = m_s.offset();
            }
        }
        return true;
    }

    void finish() {
        if (m_s.peek() != '\0') {
            m_s.fail("unexpected data after the repodata object");
        }
        m_piece.stop = std::string_view::npos;
    }

    JsonScanner m_s;
    const RepodataOrigin& m_origin;
    std::size_t m_limit;
    std::size_t m_released;
    const ReleaseFn& m_release;
    Piece m_piece;
};

// A record key at or after `from`: `"NAME.conda"` or `"NAME.tar.bz2"` followed by `:` and `{`,
// after a `,` or `{`. Only a guess (the text could sit inside a string); a piece started there is
// used only when the piece before it stops at exactly that offset, which proves it right.
std::size_t find_record_key(std::string_view json, std::size_t from, std::size_t to) {
    constexpr std::string_view k_suffixes[] = {".conda\"", ".tar.bz2\""};
    std::size_t next[2] = {json.find(k_suffixes[0], from), json.find(k_suffixes[1], from)};
    while (true) {
        int which = next[0] <= next[1] ? 0 : 1;
        std::size_t at = next[which];
        if (at == std::string_view::npos || at >= to) {
            return std::string_view::npos;
        }
        next[which] = json.find(k_suffixes[which], at + 1);
        std::size_t close = at + k_suffixes[which].size() - 1;
        std::size_t colon = json.find_first_not_of(" \t\r\n", close + 1);
        if (colon == std::string_view::npos || json[colon] != ':') {
            continue;  // a value such as `"fn": "x.conda",`
        }
        std::size_t brace = json.find_first_not_of(" \t\r\n", colon + 1);
        std::size_t open = json.rfind('"', at);
        if (brace == std::string_view::npos || json[brace] != '{' ||
            open == std::string_view::npos || open < from) {
            continue;
        }
        std::string_view key = json.substr(open + 1, close - open - 1);
        if (key == "packages.conda" || key.find('\\') != std::string_view::npos) {
            continue;
        }
        std::size_t before = json.find_last_not_of(" \t\r\n", open - 1);
        if (before != std::string_view::npos && (json[before] == ',' || json[before] == '{')) {
            return open;
        }
    }
}

// No real record is under ~120 bytes of JSON: a reservation that is never exceeded, whose
// untouched pages cost no memory.
constexpr std::size_t k_min_record_bytes = 120;

Repodata parse_impl(std::string_view json, std::string_view source, const RepodataOrigin& origin,
                    const RepodataParseOptions& options, const ReleaseFn& release) {
    // Split points: record keys near equal offsets.
    std::size_t threads = options.threads == 0 ? default_thread_count() : options.threads;
    threads = std::min<std::size_t>(threads, 16);
    threads = std::min(threads, json.size() / std::max<std::size_t>(options.min_share_bytes, 1));
    threads = std::max<std::size_t>(threads, 1);
    std::vector<std::size_t> starts{0};
    for (std::size_t k = 1; k < threads; ++k) {
        std::size_t nominal = json.size() / threads * k;
        std::size_t key = find_record_key(json, std::max(nominal, starts.back() + 1), json.size());
        if (key == std::string_view::npos) {
            break;
        }
        starts.push_back(key);
    }
    auto limit_of = [&](std::size_t k) {
        return k + 1 < starts.size() ? starts[k + 1] : std::string_view::npos;
    };

    std::vector<std::future<Piece>> later;
    std::optional<ThreadPool> pool;
    if (starts.size() > 1) {
        pool.emplace(static_cast<unsigned>(starts.size() - 1));
        for (std::size_t k = 1; k < starts.size(); ++k) {
            later.push_back(pool->submit([&, k] {
                std::size_t bytes = limit_of(k) == std::string_view::npos ? json.size() - starts[k]
                                                                          : limit_of(k) - starts[k];
                PieceReader reader(json, source, origin, starts[k], limit_of(k), release);
                return reader.read_from_record(bytes / k_min_record_bytes + 16);
            }));
        }
    }
    // The first piece holds everything in the end; it reserves for the whole document.
    Piece all = PieceReader(json, source, origin, 0, limit_of(0), release)
                    .read_document(json.size() / k_min_record_bytes + 16);
    std::optional<std::string> info_subdir = all.info_subdir;
    unsigned shares = 1;
    for (std::size_t k = 1; k < starts.size(); ++k) {
        if (all.stop == std::string_view::npos) {
            break;  // a guessed start that was not a record key: the text is already read
        }
        std::optional<Piece> piece;
        std::exception_ptr error;
        try {
            piece = later[k - 1].get();
        } catch (...) {
            error = std::current_exception();
        }
        if (all.stop != starts[k]) {
            // The guess was wrong: read on from where the previous piece stopped.
            Piece rest =
                PieceReader(json, source, origin, all.stop, std::string_view::npos, release)
                    .read_from_record(0);
            piece = std::move(rest);
            error = nullptr;
            k = starts.size();  // nothing after this piece is needed
        } else {
            ++shares;
        }
        if (error) {
            std::rethrow_exception(error);  // a real error: this piece began where it should
        }
        for (auto& r : piece->records) {
            all.records.push_back(std::move(r));
        }
        if (piece->info_subdir) {
            info_subdir = piece->info_subdir;
        }
        all.stop = piece->stop;
    }

    Repodata out;
    out.subdir = info_subdir.value_or(origin.subdir);
    out.records = std::move(all.records);
    out.shares = shares;
    for (auto& r : out.records) {
        if (r.subdir.empty()) {
            r.subdir = out.subdir;  // known only now: `info` may come after the packages
        }
    }
    out.replaced_tar_bz2 += detail::drop_tar_bz2_twins(out.records);
    return out;
}

}  // namespace

Repodata parse_repodata(std::string_view json, std::string_view source,
                        const RepodataOrigin& origin, const RepodataParseOptions& options) {
    return parse_impl(json, source, origin, options, {});
}

RepodataEncoding repodata_encoding(std::string_view file_name) {
    if (file_name.ends_with(".zst")) {
        return RepodataEncoding::zstd;
    }
    if (file_name.ends_with(".bz2")) {
        return RepodataEncoding::bzip2;
    }
    return RepodataEncoding::json;
}

Repodata read_repodata_file(const std::filesystem::path& path, const RepodataOrigin& origin,
                            const RepodataParseOptions& options) {
    RepodataEncoding encoding = repodata_encoding(path.filename().string());
    const std::string source = options.source.empty() ? path.string() : options.source;
    if (encoding == RepodataEncoding::json) {
        detail::MappedFile file(path);
        return parse_impl(
            file.view(), source, origin, options,
            [&file](std::size_t begin, std::size_t end) { file.release(begin, end); });
    }
    std::string json = decode_repodata(read_file(path), encoding, source);
    return parse_repodata(json, source, origin, options);
}

}  // namespace envpack
