#include "resolver/env_file.h"

#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/hasher.h"
#include "resolver/detail/spec_check.h"
#include "resolver/detail/yaml_text.h"

namespace envpack {
namespace {

std::string_view line_of(std::string_view text, int line) {
    return detail::text_line(text, line);
}

SourcePos pos_of(const YAML::Node& node) {
    const YAML::Mark m = node.Mark();
    if (m.is_null()) {
        return {};
    }
    return {m.line + 1, m.column + 1};
}

class Parser {
  public:
    Parser(std::string_view text, const std::filesystem::path& file) : m_text(text), m_file(file) {}

    [[noreturn]] void fail(SourcePos pos, std::string_view message,
                           std::string hint =
                               "see CEP 24: keys are name, channels, dependencies "
                               "(with one `pip:` list), variables, prefix") const {
        throw bad_input(format_parse_error(m_file.string(), pos.line, pos.column, message,
                                           line_of(m_text, pos.line)),
                        std::move(hint));
    }

    std::string scalar(const YAML::Node& node, std::string_view what) const {
        if (!node.IsScalar()) {
            fail(pos_of(node), fmt::format("{} must be a string", what));
        }
        return node.Scalar();
    }

    std::vector<std::pair<std::string, SourcePos>> string_list(const YAML::Node& node,
                                                               std::string_view what) const {
        std::vector<std::pair<std::string, SourcePos>> out;
        if (node.IsNull()) {
            return out;
        }
        if (!node.IsSequence()) {
            fail(pos_of(node), fmt::format("`{}` must be a list", what));
        }
        for (const auto& item : node) {
            std::string value = scalar(item, fmt::format("an entry of `{}`", what));
            if (value.empty()) {
                fail(pos_of(item), fmt::format("empty entry in `{}`", what));
            }
            out.emplace_back(std::move(value), pos_of(item));
        }
        return out;
    }

    EnvSpec run() {
        YAML::Node root;
        try {
            root = YAML::Load(std::string(m_text));
        } catch (const YAML::ParserException& e) {
            SourcePos pos{e.mark.line + 1, e.mark.column + 1};
            if (e.mark.is_null()) {
                pos = {};
            }
            fail(pos, fmt::format("malformed YAML: {}", e.msg));
        }
        EnvSpec spec;
        spec.file = m_file;
        spec.source_text = std::string(m_text);
        if (root.IsNull()) {
            fail({1, 1}, "the environment file is empty");
        }
        if (!root.IsMap()) {
            fail(pos_of(root),
                 "an environment file must be a mapping (name, channels, dependencies)");
        }
        std::set<std::string> seen;
        for (const auto& kv : root) {
            std::string key = scalar(kv.first, "a key");
            if (!seen.insert(key).second) {
                fail(pos_of(kv.first), fmt::format("duplicate key `{}`", key));
            }
            const YAML::Node& value = kv.second;
            if (key == "name") {
                spec.name = value.IsNull() ? std::string() : scalar(value, "`name`");
            } else if (key == "channels") {
                for (auto& [c, p] : string_list(value, "channels")) {
                    spec.channels.push_back(std::move(c));
                    spec.channel_pos.push_back(p);
                }
            } else if (key == "dependencies") {
                read_dependencies(value, spec);
            } else if (key == "variables") {
                read_variables(value, spec);
            } else if (key == "prefix") {
                spec.notes.push_back(fmt::format(
                    "{}:{}: `prefix` is ignored: envpack installs the environment into an image",
                    m_file.string(), pos_of(kv.first).line));
            } else {
                fail(pos_of(kv.first), fmt::format("unknown key `{}` in environment file", key));
            }
        }
        return spec;
    }

  private:
    void read_dependencies(const YAML::Node& value, EnvSpec& spec) {
        if (value.IsNull()) {
            return;
        }
        if (!value.IsSequence()) {
            fail(pos_of(value), "`dependencies` must be a list");
        }
        bool have_pip = false;
        for (const auto& item : value) {
            if (item.IsMap()) {
                if (item.size() != 1 || !item.begin()->first.IsScalar() ||
                    item.begin()->first.Scalar() != "pip") {
                    fail(pos_of(item), "a mapping in `dependencies` must be `pip: [...]`");
                }
                if (have_pip) {
                    fail(pos_of(item), "only one `pip:` list is allowed in `dependencies`");
                }
                have_pip = true;
                for (auto& [p, pos] : string_list(item.begin()->second, "pip")) {
                    spec.pip.push_back(std::move(p));
                }
                continue;
            }
            if (!item.IsScalar()) {
                fail(pos_of(item), "a dependency must be a match spec string or `pip: [...]`");
            }
            std::string dep = item.Scalar();
            SourcePos pos = pos_of(item);
            if (auto problem = detail::check_match_spec(dep)) {
                fail(pos, *problem,
                     "write a conda match spec: `name`, `name=1.2`, `name >=1.2,<2`, "
                     "`name=1.2=build`, `channel::name[version='>=1']`");
            }
            spec.dependencies.push_back(std::move(dep));
            spec.dependency_pos.push_back(pos);
        }
    }

    void read_variables(const YAML::Node& value, EnvSpec& spec) {
        if (value.IsNull()) {
            return;
        }
        if (!value.IsMap()) {
            fail(pos_of(value), "`variables` must be a mapping of NAME: value");
        }
        for (const auto& kv : value) {
            std::string key = scalar(kv.first, "a variable name");
            std::string v =
                kv.second.IsNull() ? std::string() : scalar(kv.second, "a variable value");
            spec.variables.emplace_back(std::move(key), std::move(v));
        }
    }

    std::string_view m_text;
    std::filesystem::path m_file;
};

std::string yaml_scalar(const std::string& s) {
    return detail::yaml_quote(s);
}

}  // namespace

EnvSpec EnvSpec::parse(std::string_view text, const std::filesystem::path& file_name) {
    return Parser(text, file_name).run();
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
                              line_of(source_text, pos.line));
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
