#include "builder/wheel_files.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/error.h"

namespace envpack::wheel_files {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return s;
}

bool is_word(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// A dotted name of word characters (`pkg.mod`, `Class.method`).
bool is_dotted(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '.') {
            if (s[i + 1] == '.') {
                return false;
            }
        } else if (!is_word(s[i])) {
            return false;
        }
    }
    return true;
}

std::string csv_field(std::string_view f) {
    if (f.find_first_of(",\"\r\n") == std::string_view::npos) {
        return std::string(f);
    }
    std::string out = "\"";
    for (char c : f) {
        if (c == '"') {
            out += '"';
        }
        out += c;
    }
    out += '"';
    return out;
}

}  // namespace

std::vector<RecordRow> parse_record(std::string_view text, std::string_view source) {
    std::vector<RecordRow> rows;
    std::size_t pos = 0;
    int line = 0;
    while (pos < text.size()) {
        ++line;
        std::vector<std::string> fields(1);
        bool quoted = false;
        bool any = false;
        while (pos < text.size()) {
            char c = text[pos];
            if (quoted) {
                if (c == '"' && pos + 1 < text.size() && text[pos + 1] == '"') {
                    fields.back() += '"';
                    pos += 2;
                    continue;
                }
                if (c == '"') {
                    quoted = false;
                } else {
                    fields.back() += c;
                }
                ++pos;
                continue;
            }
            if (c == '\n' || c == '\r') {
                break;
            }
            any = true;
            if (c == '"' && fields.back().empty()) {
                quoted = true;
            } else if (c == ',') {
                fields.emplace_back();
            } else {
                fields.back() += c;
            }
            ++pos;
        }
        if (quoted) {
            throw bad_input(fmt::format("{}:{}: unterminated quoted field in RECORD", source, line),
                            "the wheel's RECORD is malformed; rebuild the wheel");
        }
        if (pos < text.size() && text[pos] == '\r') {
            ++pos;
        }
        if (pos < text.size() && text[pos] == '\n') {
            ++pos;
        }
        if (!any) {
            continue;
        }
        if (fields.size() > 3 || fields[0].empty()) {
            throw bad_input(fmt::format("{}:{}: a RECORD row is `path,hash,size`, not `{}`", source,
                                        line, fmt::join(fields, ",")),
                            "the wheel's RECORD is malformed; rebuild the wheel");
        }
        fields.resize(3);
        rows.push_back({std::move(fields[0]), std::move(fields[1]), std::move(fields[2])});
    }
    return rows;
}

std::string write_record(std::vector<RecordRow> rows) {
    std::sort(rows.begin(), rows.end());
    std::string out;
    for (const auto& r : rows) {
        out += csv_field(r.path);
        out += ',';
        out += csv_field(r.hash);
        out += ',';
        out += csv_field(r.size);
        out += "\r\n";
    }
    return out;
}

std::string record_hash(const Digest& digest) {
    const std::string& hex = digest.hex();
    std::string raw;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    }
    // The URL-safe alphabet, no padding.
    std::string out = base64_encode(raw);
    std::replace(out.begin(), out.end(), '+', '-');
    std::replace(out.begin(), out.end(), '/', '_');
    out.erase(out.find_last_not_of('=') + 1);
    return "sha256=" + out;
}

EntryPoint EntryPoint::parse(std::string_view name, std::string_view value,
                             std::string_view source) {
    auto bad = [&](std::string_view why) {
        return bad_input(
            fmt::format("{}: invalid script entry point `{} = {}`: {}", source, name, value, why),
            "see https://packaging.python.org/specifications/entry-points/");
    };
    bool name_ok = !name.empty() && name != "." && name != "..";
    for (char c : name) {
        name_ok = name_ok && (is_word(c) || c == '-' || c == '.' || c == '+');
    }
    if (!name_ok) {
        throw bad("the name must be a plain file name (letters, digits, `_-.+`)");
    }
    std::string_view v = trim(value);
    if (auto bracket = v.find('['); bracket != std::string_view::npos) {
        if (v.back() != ']') {
            throw bad("unbalanced `[extras]`");
        }
        v = trim(v.substr(0, bracket));
    }
    auto colon = v.find(':');
    if (colon == std::string_view::npos) {
        throw bad("a callable suffix is required (`module:function`)");
    }
    std::string_view module = trim(v.substr(0, colon));
    std::string_view attr = trim(v.substr(colon + 1));
    if (!is_dotted(module) || !is_dotted(attr)) {
        throw bad("expected `module:attribute` with dotted Python names");
    }
    return EntryPoint{std::string(name), std::string(module), std::string(attr)};
}

EntryPoints EntryPoints::parse(std::string_view text) {
    EntryPoints out;
    std::string section;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view line = trim(text.substr(pos, end - pos));
        pos = end + 1;
        if (line.empty() || line.front() == '#' || line.front() == ';') {
            continue;
        }
        if (line.front() == '[' && line.back() == ']') {
            section = std::string(trim(line.substr(1, line.size() - 2)));
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        std::pair<std::string, std::string> entry{std::string(trim(line.substr(0, eq))),
                                                  std::string(trim(line.substr(eq + 1)))};
        if (section != "console_scripts" && section != "gui_scripts") {
            continue;
        }
        auto& group = section == "console_scripts" ? out.console : out.gui;
        // A later entry of the same name replaces the earlier one (a dict, as in pip).
        auto same = std::find_if(group.begin(), group.end(),
                                 [&](const auto& e) { return e.first == entry.first; });
        if (same != group.end()) {
            same->second = entry.second;
        } else {
            group.push_back(std::move(entry));
        }
    }
    return out;
}

std::vector<EntryPoint> console_scripts(const EntryPoints& entry_points, unsigned python_major,
                                        unsigned python_minor, std::string_view source) {
    auto console = entry_points.console;
    std::vector<EntryPoint> out;
    auto take = [&](std::string_view name) -> std::optional<std::string> {
        auto it = std::find_if(console.begin(), console.end(),
                               [&](const auto& e) { return e.first == name; });
        if (it == console.end()) {
            return std::nullopt;
        }
        std::string v = it->second;
        console.erase(it);
        return v;
    };
    auto drop_matching = [&](std::string_view stem, char sep) {
        // pip(\d+(\.\d+)?)?$ and easy_install(-\d+\.\d+)?$
        std::erase_if(console, [&](const auto& e) {
            std::string_view n = e.first;
            if (!n.starts_with(stem)) {
                return false;
            }
            n.remove_prefix(stem.size());
            if (n.empty()) {
                return true;
            }
            if (sep == '-') {
                if (n.front() != '-') {
                    return false;
                }
                n.remove_prefix(1);
            }
            auto dot = n.find('.');
            auto digits = [](std::string_view d) {
                return !d.empty() && std::all_of(d.begin(), d.end(), [](char c) {
                    return std::isdigit(static_cast<unsigned char>(c));
                });
            };
            if (dot == std::string_view::npos) {
                return sep != '-' && digits(n);
            }
            return digits(n.substr(0, dot)) && digits(n.substr(dot + 1));
        });
    };
    const std::string xy = fmt::format("{}.{}", python_major, python_minor);
    if (auto pip = take("pip")) {
        out.push_back(EntryPoint::parse("pip", *pip, source));
        out.push_back(EntryPoint::parse(fmt::format("pip{}", python_major), *pip, source));
        out.push_back(EntryPoint::parse("pip" + xy, *pip, source));
        drop_matching("pip", '.');
    }
    if (auto ei = take("easy_install")) {
        out.push_back(EntryPoint::parse("easy_install", *ei, source));
        out.push_back(EntryPoint::parse("easy_install-" + xy, *ei, source));
        drop_matching("easy_install", '-');
    }
    for (const auto& [name, value] : console) {
        out.push_back(EntryPoint::parse(name, value, source));
    }
    return out;
}

std::vector<EntryPoint> gui_scripts(const EntryPoints& entry_points, std::string_view source) {
    std::vector<EntryPoint> out;
    for (const auto& [name, value] : entry_points.gui) {
        out.push_back(EntryPoint::parse(name, value, source));
    }
    return out;
}

std::string shebang(std::string_view interpreter) {
    const bool simple =
        interpreter.find(' ') == std::string_view::npos && interpreter.size() + 3 <= 127;
    if (simple) {
        return fmt::format("#!{}\n", interpreter);
    }
    return fmt::format("#!/bin/sh\n'''exec' {} \"$0\" \"$@\"\n' '''\n", interpreter);
}

std::string script_text(const EntryPoint& entry, std::string_view interpreter) {
    std::string_view import_name = entry.attr;
    import_name = import_name.substr(0, import_name.find('.'));
    return shebang(interpreter) +
           fmt::format(
               "# -*- coding: utf-8 -*-\n"
               "import re\n"
               "import sys\n"
               "from {} import {}\n"
               "if __name__ == '__main__':\n"
               "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
               "    sys.exit({}())\n",
               entry.module, import_name, entry.attr);
}

std::optional<std::string> rewrite_python_shebang(std::string_view content,
                                                  std::string_view interpreter) {
    if (!content.starts_with("#!python")) {
        return std::nullopt;
    }
    auto nl = content.find('\n');
    std::string_view rest =
        nl == std::string_view::npos ? std::string_view{} : content.substr(nl + 1);
    return fmt::format("#!{}\n{}", interpreter, rest);
}

}  // namespace envpack::wheel_files
