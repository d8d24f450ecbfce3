#include "resolver/pip_list.h"

#include <cstdlib>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/strings.h"
#include "resolver/env_file.h"
#include "resolver/pip_index.h"
#include "resolver/wheel_tags.h"

namespace envpack::pip_list {

namespace fs = std::filesystem;

namespace {

constexpr int k_max_depth = 16;

// `${NAME}` (upper-case letters, digits, `_`) replaced by the environment variable when it is set,
// as pip's `expand_env_variables` does.
std::string expand_variables(std::string_view text) {
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        if (text.substr(i).starts_with("${")) {
            size_t end = text.find('}', i + 2);
            if (end != std::string_view::npos) {
                std::string name(text.substr(i + 2, end - i - 2));
                bool valid = !name.empty();
                for (char c : name) {
                    valid = valid && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
                }
                const char* value = valid ? std::getenv(name.c_str()) : nullptr;
                if (value != nullptr) {
                    out += value;
                    i = end + 1;
                    continue;
                }
            }
        }
        out += text[i++];
    }
    return out;
}

// pip's COMMENT_RE: `#` at the start or after whitespace, to the end of the line.
std::string strip_comment(std::string_view line) {
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
            return std::string(trim(line.substr(0, i)));
        }
    }
    return std::string(trim(line));
}

// Whitespace-separated words, with '…' and "…" quoting (shlex, enough for option values).
std::vector<std::string> split_words(std::string_view text) {
    std::vector<std::string> out;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (char c : text) {
        if (quote != 0) {
            if (c == quote) {
                quote = 0;
            } else {
                word += c;
            }
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == ' ' || c == '\t') {
            if (in_word) {
                out.push_back(std::move(word));
                word.clear();
                in_word = false;
            }
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word) {
        out.push_back(std::move(word));
    }
    return out;
}

struct OptionSpec {
    std::string_view long_name;
    std::string_view short_name;
    bool takes_value;
};

constexpr OptionSpec k_options[] = {
    {"--requirement", "-r", true},
    {"--constraint", "-c", true},
    {"--index-url", "-i", true},
    {"--extra-index-url", "", true},
    {"--no-index", "", false},
    {"--find-links", "-f", true},
    {"--pre", "", false},
    {"--only-binary", "", true},
    {"--prefer-binary", "", false},
    {"--trusted-host", "", true},
    {"--editable", "-e", true},
    {"--no-binary", "", true},
    {"--use-feature", "", true},
    {"--hash", "", true},
    {"--config-settings", "", true},
    {"--global-option", "", true},
};

struct Option {
    std::string_view name;  // the long name
    std::string value;
};

class Reader {
  public:
    Reader(const EnvSpec& spec, PipList& out) : m_spec(spec), m_out(out) {}

    void read_env_items() {
        for (size_t i = 0; i < m_spec.pip.size(); ++i) {
            Origin origin;
            origin.file = m_spec.file;
            origin.pos = i < m_spec.pip_pos.size() ? m_spec.pip_pos[i] : SourcePos{};
            origin.text = m_spec.pip[i];
            line(expand_variables(strip_comment(m_spec.pip[i])), m_spec.base_dir(), origin,
                 Kind::requirements, 0);
        }
    }

  private:
    enum class Kind { requirements, constraints };

    [[noreturn]] void fail(const Origin& origin, std::string_view message,
                           std::string_view hint = {}, std::size_t offset = 0) const {
        throw error_at(m_spec, origin, message, hint, offset);
    }

    // Options from `words` (all of them must be options); throws at an unknown one.
    std::vector<Option> options(const std::vector<std::string>& words, const Origin& origin) const {
        std::vector<Option> out;
        for (size_t i = 0; i < words.size(); ++i) {
            const std::string& w = words[i];
            const OptionSpec* found = nullptr;
            std::string value;
            bool have_value = false;
            for (const auto& o : k_options) {
                if (w == o.long_name || (!o.short_name.empty() && w == o.short_name)) {
                    found = &o;
                } else if (o.takes_value && w.starts_with(std::string(o.long_name) + "=")) {
                    found = &o;
                    value = w.substr(o.long_name.size() + 1);
                    have_value = true;
                } else if (o.takes_value && !o.short_name.empty() && w.starts_with(o.short_name) &&
                           w.size() > o.short_name.size()) {
                    found = &o;  // `-rfile`, `-fDIR`
                    value = w.substr(o.short_name.size());
                    have_value = true;
                }
                if (found != nullptr) {
                    break;
                }
            }
            if (found == nullptr) {
                fail(origin, fmt::format("unknown pip option `{}`", w),
                     "the pip list accepts -r, -c, -i/--index-url, --extra-index-url, --no-index, "
                     "-f/--find-links, --pre and --hash");
            }
            if (found->takes_value && !have_value) {
                if (i + 1 >= words.size()) {
                    fail(origin, fmt::format("pip option `{}` needs a value", w));
                }
                value = words[++i];
            }
            out.push_back({found->long_name, std::move(value)});
        }
        return out;
    }

    fs::path relative_to(const fs::path& dir, const std::string& value) const {
        fs::path p(value);
        return p.is_absolute() ? p.lexically_normal() : (dir / p).lexically_normal();
    }

    void option_line(const std::vector<Option>& opts, const fs::path& dir, const Origin& origin,
                     int depth) {
        for (const auto& o : opts) {
            if (o.name == "--requirement" || o.name == "--constraint") {
                include(relative_to(dir, o.value), origin,
                        o.name == "--requirement" ? Kind::requirements : Kind::constraints, depth);
            } else if (o.name == "--index-url") {
                m_out.index_url = o.value;
            } else if (o.name == "--extra-index-url") {
                m_out.extra_index_urls.push_back(o.value);
            } else if (o.name == "--no-index") {
                m_out.no_index = true;
            } else if (o.name == "--find-links") {
                if (pip_index::is_url(o.value) && !o.value.starts_with("file://")) {
                    m_out.find_links.push_back(o.value);
                } else {
                    std::string path = o.value.starts_with("file://")
                                           ? pip_index::percent_decode(o.value.substr(7))
                                           : o.value;
                    fs::path full = fs::absolute(relative_to(dir, path));
                    std::error_code ec;
                    if (!fs::is_directory(full, ec)) {
                        fail(origin,
                             fmt::format("--find-links `{}`: no directory `{}`", o.value,
                                         full.string()),
                             "give a directory of wheels (relative to the file that names it) or "
                             "the URL of an HTML page");
                    }
                    m_out.find_links.push_back(full.string());
                }
            } else if (o.name == "--pre") {
                m_out.pre = pep440::PreReleases::allow;
            } else if (o.name == "--only-binary" || o.name == "--prefer-binary" ||
                       o.name == "--use-feature") {
                m_out.notes.push_back(
                    fmt::format("{}: `{}` changes nothing: envpack installs wheels only",
                                where(origin), o.name));
            } else if (o.name == "--trusted-host") {
                m_out.notes.push_back(fmt::format(
                    "{}: `--trusted-host {}` is ignored: envpack always checks TLS certificates",
                    where(origin), o.value));
            } else if (o.name == "--editable") {
                fail(origin, "editable installs (`-e`) cannot go into an image",
                     "build a wheel of the project and list it, or install it in the job");
            } else if (o.name == "--no-binary") {
                fail(origin, "`--no-binary` asks for source builds; envpack installs wheels only",
                     "build wheels and serve them with --find-links");
            } else {
                fail(origin,
                     fmt::format("`{}` belongs after a requirement on the same line", o.name));
            }
        }
    }

    std::string where(const Origin& origin) const {
        if (origin.pos) {
            return fmt::format("{}:{}:{}", origin.file.string(), origin.pos->line,
                               origin.pos->column);
        }
        return fmt::format("{}:{}", origin.file.string(), origin.line);
    }

    void line(const std::string& text, const fs::path& dir, const Origin& origin, Kind kind,
              int depth) {
        if (text.empty()) {
            return;
        }
        std::vector<std::string> words = split_words(text);
        if (!words.empty() && words.front().starts_with("-")) {
            option_line(options(words, origin), dir, origin, depth);
            return;
        }
        // pip's break_args_options: the requirement is everything before the first option.
        std::string requirement;
        std::vector<std::string> option_words;
        {
            size_t cut = std::string::npos;
            for (size_t i = 0; i < text.size(); ++i) {
                if (text[i] == '-' && i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t') &&
                    i + 1 < text.size() && text[i + 1] == '-') {
                    cut = i;
                    break;
                }
            }
            requirement = std::string(trim(std::string_view(text).substr(0, cut)));
            if (cut != std::string::npos) {
                option_words = split_words(text.substr(cut));
            }
        }
        Line out;
        out.origin = origin;
        for (const auto& o : options(option_words, origin)) {
            if (o.name != "--hash") {
                fail(origin, fmt::format("`{}` cannot follow a requirement", o.name),
                     "put it on a line of its own");
            }
            const size_t colon = o.value.find(':');
            const std::string algo = o.value.substr(0, colon);
            if (colon == std::string::npos || algo != "sha256" || o.value.size() != colon + 65) {
                fail(origin, fmt::format("`--hash={}`: give sha256:HEX (64 digits)", o.value),
                     "envpack checks sha256 hashes; other algorithms cannot be checked against "
                     "the index");
            }
            out.sha256.push_back(to_lower(o.value.substr(colon + 1)));
        }
        out.requirement = parse_requirement(requirement, dir, origin);
        (kind == Kind::requirements ? m_out.requirements : m_out.constraints)
            .push_back(std::move(out));
    }

    pep508::Requirement parse_requirement(const std::string& text, const fs::path& dir,
                                          const Origin& origin) const {
        // A wheel named by path or URL: pip takes the project name from the file name.
        const bool looks_like_path =
            text.find('/') != std::string::npos || text.starts_with('.') || pip_index::is_url(text);
        if (looks_like_path && text.ends_with(".whl") && text.find(' ') == std::string::npos &&
            text.find('@') == std::string::npos) {
            const std::string file = text.substr(text.find_last_of('/') + 1);
            auto w = wheel::WheelFilename::try_parse(pip_index::percent_decode(file));
            if (!w) {
                fail(origin, fmt::format("`{}` is not a valid wheel file name", file),
                     "a wheel is NAME-VERSION(-BUILD)?-PYTHON-ABI-PLATFORM.whl");
            }
            pep508::Requirement r;
            r.name = w->name;
            if (pip_index::is_url(text)) {
                r.url = text;
            } else {
                fs::path full = fs::absolute(relative_to(dir, text));
                std::error_code ec;
                if (!fs::is_regular_file(full, ec)) {
                    fail(origin, fmt::format("no wheel file `{}`", full.string()),
                         "a wheel path is relative to the file that names it");
                }
                r.url = "file://" + full.string();
            }
            return r;
        }
        if (looks_like_path && !pip_index::is_url(text) && text.find('@') == std::string::npos &&
            text.find_first_of("<>=!~;[") == std::string::npos) {
            fail(origin,
                 fmt::format("`{}` names a directory or source archive; envpack installs wheels "
                             "only",
                             text),
                 "build a wheel and name it, or serve it with --find-links");
        }
        auto r = pep508::Requirement::try_parse(text);
        if (!r) {
            fail(origin, fmt::format("requirement `{}`: {}", text, r.error().message), {},
                 r.error().offset);
        }
        if (!r->url.empty() && !pip_index::is_url(r->url)) {
            fail(origin, fmt::format("requirement `{}`: `{}` is not a URL", text, r->url),
                 "give file:///ABSOLUTE/PATH.whl or an http(s) URL of a wheel");
        }
        if (!r->url.empty() && !r->url.ends_with(".whl") &&
            r->url.find(".whl#") == std::string::npos) {
            fail(origin, fmt::format("requirement `{}`: `{}` is not a wheel", text, r->url),
                 "envpack installs wheels only");
        }
        return std::move(*r);
    }

    void include(const fs::path& path, const Origin& from, Kind kind, int depth) {
        if (depth >= k_max_depth) {
            fail(from, fmt::format("`{}`: requirements files nest deeper than {} levels",
                                   path.string(), k_max_depth));
        }
        std::string text;
        try {
            text = read_file(path);
        } catch (const Error& e) {
            fail(from, fmt::format("cannot read `{}`: {}", path.string(), e.what()),
                 "a requirements file is relative to the file that includes it");
        }
        fs::path shown = path.lexically_relative(m_spec.base_dir());
        if (shown.empty() || shown.string().starts_with("..")) {
            shown = path;
        }
        // Logical lines: `\` at the end joins the next line (pip's join_lines).
        int number = 0;
        int first = 0;
        std::string logical;
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = text.find('\n', start);
            std::string_view raw(text.data() + start,
                                 (end == std::string::npos ? text.size() : end) - start);
            if (raw.ends_with('\r')) {
                raw.remove_suffix(1);
            }
            ++number;
            if (logical.empty()) {
                first = number;
            }
            const bool more = raw.ends_with('\\');
            logical += more ? raw.substr(0, raw.size() - 1) : raw;
            if (!more || end == std::string::npos) {
                Origin origin;
                origin.file = shown;
                origin.line = first;
                origin.text = logical;
                line(expand_variables(strip_comment(logical)), path.parent_path(), origin, kind,
                     depth + 1);
                logical.clear();
            }
            if (end == std::string::npos) {
                break;
            }
            start = end + 1;
        }
    }

    const EnvSpec& m_spec;
    PipList& m_out;
};

}  // namespace

std::vector<std::string> PipList::active_indexes() const {
    if (no_index) {
        return {};
    }
    std::vector<std::string> out{index_url};
    out.insert(out.end(), extra_index_urls.begin(), extra_index_urls.end());
    return out;
}

PipList read(const EnvSpec& spec) {
    PipList out;
    Reader reader(spec, out);
    reader.read_env_items();
    return out;
}

Error error_at(const EnvSpec& spec, const Origin& origin, std::string_view message,
               std::string_view hint, std::size_t column_offset) {
    std::string text;
    if (origin.pos) {
        SourcePos pos = *origin.pos;
        if (column_offset > 0) {
            // Point into the item's text when the item is written on one line as read.
            const std::string line(yaml::text_line(spec.source_text, pos.line));
            const size_t at = line.find(origin.text, pos.column > 0 ? pos.column - 1 : 0);
            if (at != std::string::npos) {
                pos.column = static_cast<int>(at + column_offset + 1);
            }
        }
        text = spec.located_message(pos, message);
    } else {
        text = format_parse_error(origin.file.string(), origin.line,
                                  static_cast<int>(column_offset + 1), message, origin.text);
    }
    return Error(ErrorKind::bad_input, std::move(text), std::string(hint));
}

}  // namespace envpack::pip_list
