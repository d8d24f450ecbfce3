// One YAML layer for every file envpack reads (environment files, lock files, job files, recipes).
//
// `yaml::Document::parse` turns text into a tree of `yaml::Node` values that remember where each
// node was written (line and column, 1-based) and in which source: the file itself (source 0) or
// the n-th `--set KEY=VALUE` override applied afterwards (source n). yaml-cpp does the parsing;
// its headers stay in core/yaml.cpp.
//
// Errors: a malformed document, a duplicate or non-scalar map key, and every failed typed read
// throw a bad-input Error (exit code 2) whose message is `file:line:column: what` followed by the
// offending line and a caret (core/error.h format_parse_error). For a value that came from an
// override the "file" is `--set` and the line shown is the override itself.
//
// `yaml::Value` is a cursor for reading a tree into a model: typed getters (`str`, `integer`,
// `boolean`, ...) that fail with "`a.b` must be an integer, got `x`", and `expect_keys` that
// rejects unknown keys (with a "did you mean" hint).
//
// `yaml::emit` writes a tree back in block style, deterministically; `parse(emit(n))` gives a tree
// equal to `n` (positions aside).
#pragma once

#include <compare>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace envpack {

// Where an entry was written, for errors reported after parsing (1-based; 0 = unknown).
struct SourcePos {
    int line = 0;
    int column = 0;
    auto operator<=>(const SourcePos&) const = default;
};

namespace yaml {

// A position in one of a document's sources (0: the file; n >= 1: the n-th override).
struct Mark {
    SourcePos pos;
    int source = 0;
    auto operator<=>(const Mark&) const = default;
};

enum class Kind { null, scalar, sequence, map };

// `plain` scalars may be numbers, booleans or null-likes; anything quoted, block (`|`, `>`) or
// tagged `!!str` is `quoted` and always a string.
enum class Style { plain, quoted };

// One node of a document tree. A map is an ordered list of child nodes that each carry their key
// (keys are scalars; duplicates are refused when parsing).
class Node {
  public:
    Node() = default;
    static Node null(Mark mark = {});
    static Node scalar(std::string text, Style style, Mark mark = {});
    static Node string(std::string text, Mark mark = {}) {
        return scalar(std::move(text), Style::quoted, mark);
    }
    static Node plain(std::string text, Mark mark = {}) {
        return scalar(std::move(text), Style::plain, mark);
    }
    static Node sequence(Mark mark = {});
    static Node map(Mark mark = {});

    Kind kind() const { return m_kind; }
    bool is_null() const { return m_kind == Kind::null; }
    bool is_scalar() const { return m_kind == Kind::scalar; }
    bool is_sequence() const { return m_kind == Kind::sequence; }
    bool is_map() const { return m_kind == Kind::map; }
    const Mark& mark() const { return m_mark; }
    void set_mark(Mark mark) { m_mark = mark; }

    // Scalars: the text as written (without quotes); empty for other kinds.
    const std::string& text() const { return m_text; }
    Style style() const { return m_style; }

    // Sequence items, or map entries (each with key() and key_mark()).
    const std::vector<Node>& items() const { return m_items; }
    std::vector<Node>& items() { return m_items; }
    const std::string& key() const { return m_key; }
    const Mark& key_mark() const { return m_key_mark; }

    // Maps: the entry for `key`, or nullptr (also for other kinds).
    const Node* find(std::string_view key) const;
    Node* find(std::string_view key);
    // Maps: replaces the entry for `key` or appends one; returns it. A null node becomes a map.
    Node& set(std::string key, Node value, Mark key_mark = {});
    // Sequences: appends. A null node becomes a sequence.
    Node& push_back(Node value);

    // Structural equality: kinds, texts, styles of scalars, keys and items; marks are ignored.
    bool operator==(const Node& other) const;

  private:
    Kind m_kind = Kind::null;
    Style m_style = Style::plain;
    std::string m_text;
    std::string m_key;
    Mark m_mark;
    Mark m_key_mark;
    std::vector<Node> m_items;
};

// A parsed document and the texts its marks point into.
class Document {
  public:
    // Parses `text`; `file` names it in errors. Throws bad-input Error on malformed YAML,
    // duplicate keys, non-scalar keys. An empty document is a null root.
    static Document parse(std::string_view text, std::string file);
    // Reads and parses `path`; a missing or unreadable file is a bad-input Error naming it.
    static Document load(const std::filesystem::path& path);

    const Node& root() const { return m_root; }
    Node& root() { return m_root; }
    const std::string& file() const { return m_sources.front().name; }
    const std::string& text() const { return m_sources.front().text; }

    // Applies one override `a.b.c=VALUE` (as given to `--set`): VALUE is parsed as YAML (a scalar
    // or a flow collection such as `[1, 2]` / `{x: 1}`; empty means null). Missing maps on the
    // way are created; a numeric segment indexes a sequence (the next index appends). Throws a
    // bad-input Error pointing into the override when the path or the value is malformed or runs
    // through a scalar.
    void apply_override(std::string_view assignment);

    // The error every failed read throws: `name:line:column: message`, the line and a caret.
    Error error_at(const Mark& mark, std::string_view message, std::string hint = {}) const;
    // Text of the source a mark points into, with its name (`--set` for overrides).
    std::string_view source_name(int source) const;
    std::string_view source_text(int source) const;

  private:
    struct Source {
        std::string name;
        std::string text;
    };
    std::vector<Source> m_sources;
    Node m_root;
};

// A cursor for reading a document into a model. Holds references: the document must outlive it.
// `path` is the dotted path shown in messages ("resources.instance_count").
class Value {
  public:
    Value(const Document& doc, const Node& node, std::string path, std::string hint = {});

    const Node& node() const { return *m_node; }
    const std::string& path() const { return m_path; }
    const Mark& mark() const { return m_node->mark(); }
    // For map entries: the key and where it was written.
    const std::string& key() const { return m_node->key(); }
    const Mark& key_mark() const { return m_node->key_mark(); }
    bool is_null() const { return m_node->is_null(); }
    bool is_scalar() const { return m_node->is_scalar(); }
    bool is_map() const { return m_node->is_map(); }
    bool is_sequence() const { return m_node->is_sequence(); }

    // Any scalar as text (numbers and booleans as written). Fails for null, maps and lists.
    std::string str() const;
    // A plain decimal integer within [min, max].
    std::int64_t integer(std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX) const;
    // A plain number (integer or decimal, as YAML 1.2's core schema).
    double number() const;
    // true/false (also True/TRUE, yes/no, on/off as YAML 1.1 readers accept).
    bool boolean() const;
    // A scalar that must be one of `allowed`.
    std::string one_of(std::initializer_list<std::string_view> allowed) const;

    // Sequence items (null reads as empty); fails for other kinds.
    std::vector<Value> items() const;
    // Map entries in file order (null reads as empty); fails for other kinds.
    std::vector<Value> entries() const;
    // A map's entry for `key` (nullopt when absent); fails when this is not a map or null.
    std::optional<Value> get(std::string_view key) const;
    // Fails at the first key of this map not in `allowed`, naming `where` and the closest
    // allowed key.
    void expect_keys(std::initializer_list<std::string_view> allowed, std::string_view where) const;
    void expect_keys(const std::vector<std::string_view>& allowed, std::string_view where) const;

    [[noreturn]] void fail(std::string_view message) const;
    [[noreturn]] void fail(std::string_view message, std::string hint) const;
    [[noreturn]] void fail_at_key(std::string_view message) const;
    const Document& doc() const { return *m_doc; }
    const std::string& hint() const { return m_hint; }

  private:
    Value child(const Node& node, std::string path) const;
    std::string describe() const;  // "a list", "`abc`", ...
    void require_map_or_null(std::string_view what) const;

    const Document* m_doc;
    const Node* m_node;
    std::string m_path;
    std::string m_hint;
};

// Writes `node` as block-style YAML ending in a newline (`{}`/`[]` for empty collections,
// `null` for null). Scalars of quoted style are quoted only when needed to read back as the
// same string (see quote()).
std::string emit(const Node& node);

// `s` as a plain scalar when that reads back as the same string, else single-quoted (`'`
// doubled), or double-quoted with escapes when it holds control characters or newlines.
// Numbers, booleans, null-likes, empty strings and anything with YAML punctuation are quoted.
std::string quote(std::string_view s);

// The 1-based line `line` of `text` without its newline ("" when out of range).
std::string_view text_line(std::string_view text, int line);

// Suggests the entry of `candidates` closest to `word` (edit distance <= 2 or a shared prefix),
// or "" when none is close.
std::string closest(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace yaml
}  // namespace envpack
