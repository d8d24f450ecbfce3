#include "core/yaml.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/fs.h"

namespace envpack::yaml {
namespace {

Mark mark_of(const YAML::Mark& m, int source, SourcePos offset) {
    if (m.is_null() || m.line < 0) {
        return {{}, source};
    }
    // Overrides are one line: their marks are shifted by the `KEY=` prefix.
    return {{m.line + 1 + offset.line, m.column + 1 + (m.line == 0 ? offset.column : 0)}, source};
}

class Converter {
  public:
    Converter(const Document& doc, int source, SourcePos offset)
        : m_doc(doc), m_source(source), m_offset(offset) {}

    Node convert(const YAML::Node& n) const {
        Mark mark = mark_of(n.Mark(), m_source, m_offset);
        switch (n.Type()) {
            case YAML::NodeType::Undefined:
            case YAML::NodeType::Null:
                return Node::null(mark);
            case YAML::NodeType::Scalar: {
                // yaml-cpp tags plain scalars "?" and quoted/block ones "!"; an explicit !!str is
                // a string too.
                const std::string& tag = n.Tag();
                bool quoted = tag == "!" || tag == "tag:yaml.org,2002:str";
                return Node::scalar(n.Scalar(), quoted ? Style::quoted : Style::plain, mark);
            }
            case YAML::NodeType::Sequence: {
                Node out = Node::sequence(mark);
                for (const auto& item : n) {
                    out.push_back(convert(item));
                }
                return out;
            }
            case YAML::NodeType::Map: {
                Node out = Node::map(mark);
                std::set<std::string> seen;
                for (const auto& kv : n) {
                    Mark key_mark = mark_of(kv.first.Mark(), m_source, m_offset);
                    if (!kv.first.IsScalar()) {
                        throw m_doc.error_at(key_mark, "a key must be a plain string");
                    }
                    std::string key = kv.first.Scalar();
                    if (!seen.insert(key).second) {
                        throw m_doc.error_at(key_mark, fmt::format("duplicate key `{}`", key));
                    }
                    Node value = convert(kv.second);
                    // An empty value is marked where the next token starts (often the next line):
                    // point at its key instead.
                    if (value.is_null() && value.mark().pos.line != key_mark.pos.line) {
                        value.set_mark(key_mark);
                    }
                    out.set(std::move(key), std::move(value), key_mark);
                }
                return out;
            }
        }
        return Node::null(mark);
    }

  private:
    const Document& m_doc;
    int m_source;
    SourcePos m_offset;
};

std::string lower(std::string_view s) {
    std::string out;
    for (char c : s) {
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

bool is_index(std::string_view s) {
    return !s.empty() && s.size() < 10 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void emit_into(std::string& out, const Node& node, int indent);

std::string emit_scalar(const Node& node) {
    if (node.is_null()) {
        return "null";
    }
    if (node.style() == Style::plain && !node.text().empty()) {
        return node.text();
    }
    return quote(node.text());
}

bool is_inline(const Node& n) {
    return n.is_null() || n.is_scalar() || n.items().empty();
}

std::string inline_text(const Node& n) {
    if (n.is_map()) {
        return "{}";
    }
    if (n.is_sequence()) {
        return "[]";
    }
    return emit_scalar(n);
}

void emit_into(std::string& out, const Node& node, int indent) {
    std::string pad(static_cast<size_t>(indent), ' ');
    if (is_inline(node)) {
        out += pad + inline_text(node) + "\n";
        return;
    }
    if (node.is_map()) {
        for (const auto& entry : node.items()) {
            out += pad + quote(entry.key()) + ":";
            if (is_inline(entry)) {
                out += " " + inline_text(entry) + "\n";
            } else {
                out += "\n";
                // Lists under a key are indented like maps, which every reader accepts.
                emit_into(out, entry, indent + 2);
            }
        }
        return;
    }
    for (const auto& item : node.items()) {
        std::string child;
        emit_into(child, item, indent + 2);
        // `- ` takes the place of the first two columns of the child's first line.
        out += pad + "- " + child.substr(static_cast<size_t>(indent) + 2);
    }
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

}  // namespace

// ---- Node

Node Node::null(Mark mark) {
    Node n;
    n.m_mark = mark;
    return n;
}

Node Node::scalar(std::string text, Style style, Mark mark) {
    Node n;
    n.m_kind = Kind::scalar;
    n.m_text = std::move(text);
    n.m_style = style;
    n.m_mark = mark;
    return n;
}

Node Node::sequence(Mark mark) {
    Node n;
    n.m_kind = Kind::sequence;
    n.m_mark = mark;
    return n;
}

Node Node::map(Mark mark) {
    Node n;
    n.m_kind = Kind::map;
    n.m_mark = mark;
    return n;
}

const Node* Node::find(std::string_view key) const {
    if (m_kind != Kind::map) {
        return nullptr;
    }
    for (const auto& entry : m_items) {
        if (entry.m_key == key) {
            return &entry;
        }
    }
    return nullptr;
}

Node* Node::find(std::string_view key) {
    return const_cast<Node*>(std::as_const(*this).find(key));
}

Node& Node::set(std::string key, Node value, Mark key_mark) {
    if (m_kind == Kind::null) {
        m_kind = Kind::map;
    }
    value.m_key = std::move(key);
    value.m_key_mark = key_mark;
    if (Node* existing = find(value.m_key)) {
        *existing = std::move(value);
        return *existing;
    }
    m_items.push_back(std::move(value));
    return m_items.back();
}

Node& Node::push_back(Node value) {
    if (m_kind == Kind::null) {
        m_kind = Kind::sequence;
    }
    m_items.push_back(std::move(value));
    return m_items.back();
}

bool Node::operator==(const Node& other) const {
    if (m_kind != other.m_kind || m_key != other.m_key) {
        return false;
    }
    if (m_kind == Kind::scalar) {
        return m_text == other.m_text && m_style == other.m_style;
    }
    return m_items == other.m_items;
}

// ---- Document

Document Document::parse(std::string_view text, std::string file) {
    Document doc;
    doc.m_sources.push_back({std::move(file), std::string(text)});
    YAML::Node root;
    try {
        root = YAML::Load(doc.m_sources.front().text);
    } catch (const YAML::ParserException& e) {
        throw doc.error_at(mark_of(e.mark, 0, {}), fmt::format("malformed YAML: {}", e.msg));
    }
    doc.m_root = Converter(doc, 0, {}).convert(root);
    if (doc.m_root.is_null()) {
        doc.m_root.set_mark({{1, 1}, 0});
    }
    return doc;
}

Document Document::load(const std::filesystem::path& path) {
    std::string text;
    try {
        text = read_file(path);
    } catch (const Error& e) {
        throw bad_input(fmt::format("read `{}`: {}", path.string(), e.what()),
                        "pass an existing, readable file");
    }
    return parse(text, path.string());
}

void Document::apply_override(std::string_view assignment) {
    m_sources.push_back({"--set", std::string(assignment)});
    const int source = static_cast<int>(m_sources.size()) - 1;
    auto at_column = [&](size_t column0) {
        return Mark{{1, static_cast<int>(column0) + 1}, source};
    };
    const std::string hint = "write --set KEY.SUBKEY=VALUE, e.g. --set resources.instance_count=4";

    size_t eq = assignment.find('=');
    if (eq == std::string_view::npos) {
        throw error_at(at_column(assignment.size()), "expected KEY=VALUE", hint);
    }
    std::string_view path = assignment.substr(0, eq);
    std::vector<std::pair<std::string, size_t>> segments;  // (segment, column where it starts)
    for (size_t start = 0;;) {
        size_t dot = path.find('.', start);
        std::string_view seg =
            path.substr(start, dot == std::string_view::npos ? path.size() - start : dot - start);
        if (seg.empty()) {
            throw error_at(at_column(start), "empty key in the path", hint);
        }
        segments.emplace_back(std::string(seg), start);
        if (dot == std::string_view::npos) {
            break;
        }
        start = dot + 1;
    }

    const size_t value_column = eq + 1;
    std::string value_text(assignment.substr(value_column));
    YAML::Node parsed;
    try {
        parsed = YAML::Load(value_text);
    } catch (const YAML::ParserException& e) {
        Mark m = mark_of(e.mark, source, {0, static_cast<int>(value_column)});
        throw error_at(m, fmt::format("malformed YAML value: {}", e.msg), hint);
    }
    Node value = Converter(*this, source, {0, static_cast<int>(value_column)}).convert(parsed);
    if (value.mark().pos.line == 0 || value.is_null()) {
        value.set_mark(at_column(value_column));
    }

    Node* cur = &m_root;
    std::string walked;
    for (size_t i = 0; i < segments.size(); ++i) {
        const auto& [seg, col] = segments[i];
        const bool last = i + 1 == segments.size();
        Mark key_mark = at_column(col);
        Node* next = nullptr;
        if (cur->is_sequence()) {
            if (!is_index(seg)) {
                throw error_at(
                    key_mark,
                    fmt::format("`{}` is a list: expected an index, got `{}`", walked, seg), hint);
            }
            size_t index = std::stoul(seg);
            if (index > cur->items().size()) {
                throw error_at(key_mark,
                               fmt::format("`{}` has {} entries: index {} is past its end", walked,
                                           cur->items().size(), index),
                               "use an existing index, or the next one to append");
            }
            if (index == cur->items().size()) {
                next = &cur->push_back(Node::null(key_mark));
            } else {
                next = &cur->items()[index];
            }
        } else if (cur->is_map() || cur->is_null()) {
            next = cur->find(seg);
            if (next == nullptr) {
                next = &cur->set(seg, Node::null(key_mark), key_mark);
            }
        } else {
            throw error_at(key_mark,
                           fmt::format("`{}` is a scalar (`{}`): it has no key `{}`", walked,
                                       cur->text(), seg),
                           hint);
        }
        walked += (walked.empty() ? "" : ".") + seg;
        if (last) {
            if (cur->is_sequence()) {
                *next = std::move(value);
            } else {
                Mark keep = next->key_mark().pos.line != 0 ? next->key_mark() : key_mark;
                cur->set(seg, std::move(value), keep);
            }
            return;
        }
        cur = next;
    }
}

Error Document::error_at(const Mark& mark, std::string_view message, std::string hint) const {
    return bad_input(
        format_parse_error(source_name(mark.source), mark.pos.line, mark.pos.column, message,
                           text_line(source_text(mark.source), mark.pos.line)),
        std::move(hint));
}

std::string_view Document::source_name(int source) const {
    if (source < 0 || static_cast<size_t>(source) >= m_sources.size()) {
        return "?";
    }
    return m_sources[static_cast<size_t>(source)].name;
}

std::string_view Document::source_text(int source) const {
    if (source < 0 || static_cast<size_t>(source) >= m_sources.size()) {
        return {};
    }
    return m_sources[static_cast<size_t>(source)].text;
}

// ---- Value

Value::Value(const Document& doc, const Node& node, std::string path, std::string hint)
    : m_doc(&doc), m_node(&node), m_path(std::move(path)), m_hint(std::move(hint)) {}

Value Value::child(const Node& node, std::string path) const {
    return Value(*m_doc, node, std::move(path), m_hint);
}

void Value::fail(std::string_view message) const {
    throw m_doc->error_at(mark(), message, m_hint);
}

void Value::fail(std::string_view message, std::string hint) const {
    throw m_doc->error_at(mark(), message, std::move(hint));
}

void Value::fail_at_key(std::string_view message) const {
    throw m_doc->error_at(key_mark().pos.line != 0 ? key_mark() : mark(), message, m_hint);
}

std::string Value::describe() const {
    switch (m_node->kind()) {
        case Kind::null:
            return "nothing";
        case Kind::map:
            return "a mapping";
        case Kind::sequence:
            return "a list";
        case Kind::scalar:
            break;
    }
    return fmt::format("{}`{}`", m_node->style() == Style::quoted ? "the string " : "",
                       m_node->text());
}

std::string Value::str() const {
    if (!m_node->is_scalar()) {
        fail(fmt::format("`{}` must be a string, got {}", m_path, describe()));
    }
    return m_node->text();
}

std::int64_t Value::integer(std::int64_t min, std::int64_t max) const {
    std::int64_t v = 0;
    bool ok = m_node->is_scalar() && m_node->style() == Style::plain;
    if (ok) {
        std::string_view t = m_node->text();
        if (!t.empty() && t.front() == '+') {
            t.remove_prefix(1);
        }
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        ok = ec == std::errc() && p == t.data() + t.size() && !t.empty();
    }
    if (!ok) {
        fail(fmt::format("`{}` must be an integer, got {}", m_path, describe()));
    }
    if (v < min || v > max) {
        if (max == INT64_MAX) {
            fail(fmt::format("`{}` must be at least {}, got {}", m_path, min, v));
        }
        fail(fmt::format("`{}` must be between {} and {}, got {}", m_path, min, max, v));
    }
    return v;
}

double Value::number() const {
    double v = 0;
    bool ok = m_node->is_scalar() && m_node->style() == Style::plain;
    if (ok) {
        std::string_view t = m_node->text();
        if (!t.empty() && t.front() == '+') {
            t.remove_prefix(1);
        }
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        ok = ec == std::errc() && p == t.data() + t.size() && !t.empty();
    }
    if (!ok) {
        fail(fmt::format("`{}` must be a number, got {}", m_path, describe()));
    }
    return v;
}

bool Value::boolean() const {
    if (m_node->is_scalar() && m_node->style() == Style::plain) {
        std::string t = lower(m_node->text());
        if (t == "true" || t == "yes" || t == "on") {
            return true;
        }
        if (t == "false" || t == "no" || t == "off") {
            return false;
        }
    }
    fail(fmt::format("`{}` must be true or false, got {}", m_path, describe()));
}

std::string Value::one_of(std::initializer_list<std::string_view> allowed) const {
    std::string v = str();
    for (auto a : allowed) {
        if (v == a) {
            return v;
        }
    }
    std::string list;
    for (auto a : allowed) {
        list += (list.empty() ? "" : ", ") + std::string(a);
    }
    std::vector<std::string_view> candidates(allowed);
    std::string near = closest(v, candidates);
    fail(fmt::format("`{}` must be one of {}, got `{}`{}", m_path, list, v,
                     near.empty() ? "" : fmt::format(" (did you mean `{}`?)", near)));
}

std::vector<Value> Value::items() const {
    std::vector<Value> out;
    if (m_node->is_null()) {
        return out;
    }
    if (!m_node->is_sequence()) {
        fail(fmt::format("`{}` must be a list, got {}", m_path, describe()));
    }
    for (size_t i = 0; i < m_node->items().size(); ++i) {
        out.push_back(child(m_node->items()[i], fmt::format("{}[{}]", m_path, i)));
    }
    return out;
}

void Value::require_map_or_null(std::string_view what) const {
    if (!m_node->is_map() && !m_node->is_null()) {
        fail(fmt::format("`{}` must be {}, got {}", m_path, what, describe()));
    }
}

std::vector<Value> Value::entries() const {
    require_map_or_null("a mapping");
    std::vector<Value> out;
    for (const auto& entry : m_node->items()) {
        out.push_back(child(entry, m_path.empty() ? entry.key() : m_path + "." + entry.key()));
    }
    return out;
}

std::optional<Value> Value::get(std::string_view key) const {
    require_map_or_null("a mapping");
    const Node* n = m_node->find(key);
    if (n == nullptr) {
        return std::nullopt;
    }
    return child(*n, m_path.empty() ? std::string(key) : m_path + "." + std::string(key));
}

void Value::expect_keys(std::initializer_list<std::string_view> allowed,
                        std::string_view where) const {
    expect_keys(std::vector<std::string_view>(allowed), where);
}

void Value::expect_keys(const std::vector<std::string_view>& allowed,
                        std::string_view where) const {
    require_map_or_null("a mapping");
    for (const auto& entry : m_node->items()) {
        if (std::find(allowed.begin(), allowed.end(), entry.key()) != allowed.end()) {
            continue;
        }
        std::string near = closest(entry.key(), allowed);
        std::string list;
        for (auto a : allowed) {
            list += (list.empty() ? "" : ", ") + std::string(a);
        }
        throw m_doc->error_at(
            entry.key_mark(),
            fmt::format("unknown key `{}` in {}{}", entry.key(), where,
                        near.empty() ? "" : fmt::format(" (did you mean `{}`?)", near)),
            fmt::format("keys allowed here: {}", list));
    }
}

// ---- text helpers

std::string emit(const Node& node) {
    std::string out;
    emit_into(out, node, 0);
    return out;
}

std::string quote(std::string_view s) {
    bool needs_double = false;
    for (char c : s) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            needs_double = true;
        }
    }
    if (needs_double) {
        std::string out = "\"";
        for (char c : s) {
            switch (c) {
                case '"':
                    out += "\\\"";
                    break;
                case '\\':
                    out += "\\\\";
                    break;
                case '\n':
                    out += "\\n";
                    break;
                case '\t':
                    out += "\\t";
                    break;
                case '\r':
                    out += "\\r";
                    break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
                    } else {
                        out += c;
                    }
            }
        }
        return out + "\"";
    }
    bool plain =
        !s.empty() && (std::isalpha(static_cast<unsigned char>(s.front())) || s.front() == '_' ||
                       s.front() == '/' || s.front() == '$' || s.front() == '.');
    for (char c : s) {
        bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
                  c == '+' || c == '-' || c == '=' || c == '<' || c == '>' || c == '~' || c == '$';
        if (!ok) {
            plain = false;
            break;
        }
    }
    if (plain) {
        static constexpr std::array<std::string_view, 13> k_words = {
            "true", "false", "yes", "no",  "on",   "off", "y",
            "n",    "null",  "nan", "inf", ".nan", ".inf"};
        std::string l = lower(s);
        for (auto w : k_words) {
            if (l == w) {
                plain = false;
            }
        }
    }
    if (plain) {
        return std::string(s);
    }
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += '\'';
        }
        out += c;
    }
    out += '\'';
    return out;
}

std::string_view text_line(std::string_view text, int line) {
    if (line <= 0) {
        return {};
    }
    size_t start = 0;
    for (int i = 1; i < line; ++i) {
        size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos) {
            return {};
        }
        start = nl + 1;
    }
    size_t end = text.find('\n', start);
    std::string_view out =
        text.substr(start, end == std::string_view::npos ? text.size() - start : end - start);
    if (!out.empty() && out.back() == '\r') {
        out.remove_suffix(1);
    }
    return out;
}

std::string closest(std::string_view word, const std::vector<std::string_view>& candidates) {
    std::string best;
    size_t best_distance = 3;
    for (auto c : candidates) {
        size_t d = edit_distance(lower(word), lower(c));
        if (d < best_distance) {
            best_distance = d;
            best = std::string(c);
        }
    }
    return best;
}

}  // namespace envpack::yaml
