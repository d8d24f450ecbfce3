#include "resolver/env_file.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/hasher.h"
#include "core/yaml.h"
#include "resolver/detail/spec_check.h"

namespace envpack {
namespace {

constexpr std::string_view k_hint =
    "see CEP 24: keys are name, channels, dependencies (with one `pip:` list), variables, prefix";

class Parser {
  public:
    explicit Parser(const yaml::Document& doc) : m_doc(doc) {}

    EnvSpec run() {
        yaml::Value root(m_doc, m_doc.root(), "", std::string(k_hint));
        EnvSpec spec;
        spec.file = m_doc.file();
        spec.source_text = m_doc.text();
        if (root.is_null()) {
            root.fail("the environment file is empty");
        }
        if (!root.is_map()) {
            root.fail("an environment file must be a mapping (name, channels, dependencies)");
        }
        root.expect_keys({"name", "channels", "dependencies", "variables", "prefix"},
                         "environment file");
        for (const auto& value : root.entries()) {
            const std::string& key = value.key();
            if (key == "name") {
                spec.name = value.is_null() ? std::string() : value.str();
            } else if (key == "channels") {
                for (const auto& c : string_list(value)) {
                    spec.channels.push_back(c.str());
                    spec.channel_pos.push_back(c.mark().pos);
                }
            } else if (key == "dependencies") {
                read_dependencies(value, spec);
            } else if (key == "variables") {
                for (const auto& v : value.entries()) {
                    spec.variables.emplace_back(v.key(), v.is_null() ? std::string() : v.str());
                }
            } else if (key == "prefix") {
                spec.notes.push_back(fmt::format(
                    "{}:{}: `prefix` is ignored: envpack installs the environment into an image",
                    m_doc.file(), value.key_mark().pos.line));
            }
        }
        return spec;
    }

  private:
    // A list of non-empty strings (null reads as empty).
    static std::vector<yaml::Value> string_list(const yaml::Value& list) {
        std::vector<yaml::Value> out = list.items();
        for (const auto& item : out) {
            if (item.str().empty()) {
                item.fail(fmt::format("empty entry in `{}`", list.path()));
            }
        }
        return out;
    }

    // Where byte `offset` of the spec `text` was written: the scalar's own position moved along
    // its line when the line shows the spec there as written (plain or quoted on one line).
    static yaml::Mark spec_mark(const yaml::Value& item, std::string_view text, size_t offset) {
        yaml::Mark mark = item.mark();
        std::string_view line = yaml::text_line(item.doc().source_text(mark.source), mark.pos.line);
        size_t col = static_cast<size_t>(mark.pos.column > 0 ? mark.pos.column - 1 : 0);
        if (col < line.size() && (line[col] == '\'' || line[col] == '"')) {
            ++col;
        }
        if (line.substr(std::min(col, line.size())).starts_with(text)) {
            mark.pos.column = static_cast<int>(col + offset + 1);
        }
        return mark;
    }

    void read_dependencies(const yaml::Value& value, EnvSpec& spec) const {
        bool have_pip = false;
        for (const auto& item : value.items()) {
            if (item.is_map()) {
                auto entries = item.entries();
                if (entries.size() != 1 || entries.front().key() != "pip") {
                    item.fail("a mapping in `dependencies` must be `pip: [...]`");
                }
                if (have_pip) {
                    item.fail("only one `pip:` list is allowed in `dependencies`");
                }
                have_pip = true;
                for (const auto& p : string_list(entries.front())) {
                    spec.pip.push_back(p.str());
                    spec.pip_pos.push_back(p.mark().pos);
                }
                continue;
            }
            if (!item.is_scalar()) {
                item.fail("a dependency must be a match spec string or `pip: [...]`");
            }
            std::string dep = item.str();
            detail::SpecCheck check = detail::check_match_spec(dep);
            if (check.error) {
                throw item.doc().error_at(
                    spec_mark(item, dep, check.error->offset),
                    fmt::format("invalid match spec `{}`: {}", dep, check.error->message),
                    "write a conda match spec: `name`, `name=1.2`, `name >=1.2,<2`, "
                    "`name=1.2=build`, `channel::name[version='>=1']`");
            }
            for (const auto& w : check.warnings) {
                spec.notes.push_back(fmt::format("{}:{}:{}: {}", m_doc.file(), item.mark().pos.line,
                                                 item.mark().pos.column, w));
            }
            spec.dependencies.push_back(std::move(dep));
            spec.dependency_pos.push_back(item.mark().pos);
        }
    }

    const yaml::Document& m_doc;
};

std::string yaml_scalar(const std::string& s) {
    return yaml::quote(s);
}

}  // namespace

EnvSpec EnvSpec::parse(std::string_view text, const std::filesystem::path& file_name) {
    return Parser(yaml::Document::parse(text, file_name.string())).run();
}

EnvSpec EnvSpec::load(const std::filesystem::path& path) {
    std::string text;
    try {
        text = read_file(path);
    } catch (const Error& e) {
        throw Error(fmt::format("read environment file `{}`: {}", path.string(), e.what()),
                    "pass an existing file with -f", ExitCode::bad_input);
    }
    return parse(text, path);
}

std::string EnvSpec::to_string() const {
    std::string out;
    if (!name.empty()) {
        out += fmt::format("name: {}\n", yaml_scalar(name));
    }
    if (!channels.empty()) {
        out += "channels:\n";
        for (const auto& c : channels) {
            out += fmt::format("  - {}\n", yaml_scalar(c));
        }
    }
    if (!dependencies.empty() || !pip.empty()) {
        out += "dependencies:\n";
        for (const auto& d : dependencies) {
            out += fmt::format("  - {}\n", yaml_scalar(d));
        }
        if (!pip.empty()) {
            out += "  - pip:\n";
            for (const auto& p : pip) {
                out += fmt::format("      - {}\n", yaml_scalar(p));
            }
        }
    }
    if (!variables.empty()) {
        out += "variables:\n";
        for (const auto& [k, v] : variables) {
            out += fmt::format("  {}: {}\n", yaml_scalar(k), yaml_scalar(v));
        }
    }
    return out;
}

std::filesystem::path EnvSpec::base_dir() const {
    std::filesystem::path dir = file.parent_path();
    return dir.empty() ? std::filesystem::path(".") : dir;
}

std::string EnvSpec::located_message(SourcePos pos, std::string_view message) const {
    return format_parse_error(file.string(), pos.line, pos.column, message,
                              yaml::text_line(source_text, pos.line));
}

std::string env_content_hash(const EnvSpec& spec, std::string_view platform) {
    Hasher h("envpack.env-content.v1");
    h.add("platform", platform);
    h.add("channels", static_cast<std::int64_t>(spec.channels.size()));
    for (const auto& c : spec.channels) {
        h.add("channel", c);
    }
    h.add("dependencies", static_cast<std::int64_t>(spec.dependencies.size()));
    for (const auto& d : spec.dependencies) {
        h.add("dependency", d);
    }
    h.add("pip", static_cast<std::int64_t>(spec.pip.size()));
    for (const auto& p : spec.pip) {
        h.add("pip-requirement", p);
    }
    return h.finish().hex();
}

}  // namespace envpack
