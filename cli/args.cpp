#include "cli/args.h"

#include <fmt/format.h>

#include "core/error.h"

namespace envpack::cli {

Args::Args(std::string command, const std::vector<std::string>& argv,
           const std::vector<OptionSpec>& specs)
    : m_command(std::move(command)) {
    bool only_positionals = false;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (only_positionals || a.size() < 2 || a[0] != '-') {
            m_positionals.push_back(a);
            continue;
        }
        if (a == "--") {
            only_positionals = true;
            continue;
        }
        std::string name = a;
        std::optional<std::string> inline_value;
        if (auto eq = a.find('='); a.starts_with("--") && eq != std::string::npos) {
            name = a.substr(0, eq);
            inline_value = a.substr(eq + 1);
        }
        const OptionSpec* spec = nullptr;
        for (const auto& s : specs) {
            if (s.name == name || (!s.short_name.empty() && s.short_name == name)) {
                spec = &s;
            }
        }
        if (spec == nullptr) {
            throw bad_input(fmt::format("{}: unknown option `{}`", m_command, a),
                            fmt::format("run `envpack {} --help` for the options", m_command));
        }
        if (!spec->takes_value) {
            if (inline_value) {
                throw bad_input(fmt::format("{}: option `{}` takes no value", m_command, name));
            }
            m_values[spec->name].push_back("");
            continue;
        }
        if (inline_value) {
            m_values[spec->name].push_back(*inline_value);
        } else if (i + 1 < argv.size()) {
            m_values[spec->name].push_back(argv[++i]);
        } else {
            throw bad_input(fmt::format("{}: option `{}` needs a value", m_command, name));
        }
    }
}

std::optional<std::string> Args::value(const std::string& name) const {
    auto it = m_values.find(name);
    if (it == m_values.end() || it->second.empty()) {
        return std::nullopt;
    }
    return it->second.back();
}

std::vector<std::string> Args::values(const std::string& name) const {
    auto it = m_values.find(name);
    return it == m_values.end() ? std::vector<std::string>{} : it->second;
}

const std::string& Args::positional(size_t i, const std::string& what) const {
    if (i >= m_positionals.size()) {
        throw bad_input(fmt::format("{}: missing {}", m_command, what),
                        fmt::format("run `envpack {} --help` for usage", m_command));
    }
    return m_positionals[i];
}

void Args::expect_at_most(size_t n) const {
    if (m_positionals.size() > n) {
        throw bad_input(fmt::format("{}: unexpected argument `{}`", m_command, m_positionals[n]),
                        fmt::format("run `envpack {} --help` for usage", m_command));
    }
}

std::optional<unsigned long long> Args::uint_value(const std::string& name) const {
    auto v = value(name);
    if (!v) {
        return std::nullopt;
    }
    try {
        size_t pos = 0;
        if (v->empty() || (*v)[0] == '-') {
            throw std::invalid_argument("negative");
        }
        unsigned long long n = std::stoull(*v, &pos);
        if (pos != v->size()) {
            throw std::invalid_argument("trailing");
        }
        return n;
    } catch (const std::exception&) {
        throw bad_input(
            fmt::format("{}: `{} {}` is not a non-negative integer", m_command, name, *v));
    }
}

}  // namespace envpack::cli
