#include "builder/base_recipe.h"

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "builder/cuda_components.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/hasher.h"
#include "core/yaml.h"

namespace envpack {

namespace fs = std::filesystem;

std::vector<LayerGroupRule> default_layer_groups() {
    return {
        {"mpi",
         {"*openmpi*",         "mpi-default-*", "libpmix*",      "libfabric*",  "libhwloc*",
          "libevent*",         "libucx*",       "libpsm*",       "libibverbs*", "librdmacm*",
          "ibverbs-providers", "libnl-*",       "libmunge*",     "libxnvctrl*", "libcaf-openmpi*",
          "libcoarrays*",      "libefa*",       "libpciaccess*", "libltdl*",    "libnuma*",
          "libnuma1",          "libibumad*",    "libfmt*"}},
        {"python",
         {"python3*", "libpython3*", "python-*", "libmpdec*", "*numpy*", "libblas*", "liblapack*",
          "libgfortran*", "libquadmath*", "libopenblas*", "mailcap", "media-types", "tzdata",
          "libexpat*", "libsqlite3*", "libreadline*", "readline-common", "libffi*",
          "libncursesw*"}},
    };
}

bool glob_match(std::string_view p, std::string_view s) {
    size_t pi = 0;
    size_t si = 0;
    size_t star = std::string_view::npos;
    size_t mark = 0;
    while (si < s.size()) {
        if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
            ++pi;
            ++si;
        } else if (pi < p.size() && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (star != std::string_view::npos) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '*') {
        ++pi;
    }
    return pi == p.size();
}

namespace {

struct Pos {
    int line = 0;
    int column = 0;
};

Pos pos_of(const YAML::Node& n) {
    const YAML::Mark m = n.Mark();
    if (m.is_null()) {
        return {};
    }
    return {m.line + 1, m.column + 1};
}

const std::regex k_package_re(R"(^[a-z0-9][a-z0-9+.-]+$)");
const std::regex k_group_re(R"(^[a-z0-9][a-z0-9-]*$)");
const std::regex k_env_re(R"(^[A-Za-z_][A-Za-z0-9_]*$)");
const std::set<std::string> k_variants = {"essential", "apt",       "required",    "minbase",
                                          "buildd",    "important", "debootstrap", "standard"};

class Parser {
  public:
    Parser(std::string_view text, const fs::path& file) : m_text(text), m_file(file) {}

    [[noreturn]] void fail(
        const YAML::Node& at, std::string_view message,
        std::string hint = "see base-images/README.md for every recipe key") const {
        fail(pos_of(at), message, std::move(hint));
    }
    [[noreturn]] void fail(
        Pos p, std::string_view message,
        std::string hint = "see base-images/README.md for every recipe key") const {
        throw bad_input(format_parse_error(m_file.string(), p.line, p.column, message,
                                           yaml::text_line(m_text, p.line)),
                        std::move(hint));
    }

    // Checks a mapping's keys against `allowed`, pointing at the first unknown one.
    void keys(const YAML::Node& map, std::string_view where,
              std::initializer_list<std::string_view> allowed) const {
        if (!map.IsMap()) {
            fail(map, fmt::format("`{}` must be a mapping", where));
        }
        for (auto it = map.begin(); it != map.end(); ++it) {
            if (!it->first.IsScalar()) {
                fail(it->first, fmt::format("`{}`: keys must be strings", where));
            }
            const std::string& k = it->first.Scalar();
            if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
                std::string list;
                for (auto a : allowed) {
                    list += list.empty() ? "" : ", ";
                    list += a;
                }
                fail(it->first, fmt::format("unknown key `{}` in `{}`", k, where),
                     fmt::format("keys of `{}`: {}", where, list));
            }
        }
    }

    std::string scalar(const YAML::Node& n, std::string_view what) const {
        if (!n.IsScalar()) {
            fail(n, fmt::format("{} must be a string", what));
        }
        return n.Scalar();
    }

    bool boolean(const YAML::Node& n, std::string_view what) const {
        std::string s = scalar(n, what);
        if (s == "true" || s == "yes") {
            return true;
        }
        if (s == "false" || s == "no") {
            return false;
        }
        fail(n, fmt::format("{} must be true or false, not `{}`", what, s));
    }

    std::vector<std::string> list(const YAML::Node& n, std::string_view what,
                                  const std::regex* valid = nullptr,
                                  std::string_view valid_hint = {}) const {
        std::vector<std::string> out;
        if (n.IsNull()) {
            return out;
        }
        if (!n.IsSequence()) {
            fail(n, fmt::format("`{}` must be a list", what));
        }
        for (const auto& item : n) {
            std::string v = scalar(item, fmt::format("an entry of `{}`", what));
            if (valid != nullptr && !std::regex_match(v, *valid)) {
                fail(item, fmt::format("`{}` in `{}` is not valid", v, what),
                     std::string(valid_hint));
            }
            out.push_back(std::move(v));
        }
        return out;
    }

    std::map<std::string, std::string> string_map(const YAML::Node& n, std::string_view what,
                                                  const std::regex* key_re) const {
        std::map<std::string, std::string> out;
        if (n.IsNull()) {
            return out;
        }
        if (!n.IsMap()) {
            fail(n, fmt::format("`{}` must be a mapping", what));
        }
        for (auto it = n.begin(); it != n.end(); ++it) {
            std::string k = scalar(it->first, fmt::format("a key of `{}`", what));
            if (key_re != nullptr && !std::regex_match(k, *key_re)) {
                fail(it->first, fmt::format("`{}` is not a valid name in `{}`", k, what));
            }
            out[k] = scalar(it->second, fmt::format("`{}.{}`", what, k));
        }
        return out;
    }

    BaseRecipe run() {
        YAML::Node root;
        try {
            root = YAML::Load(std::string(m_text));
        } catch (const YAML::ParserException& e) {
            Pos p{e.mark.line + 1, e.mark.column + 1};
            fail(e.mark.is_null() ? Pos{} : p, fmt::format("malformed YAML: {}", e.msg));
        }
        if (!root.IsMap()) {
            fail(root, "a recipe must be a mapping with a `debian:` key");
        }
        keys(root, "recipe", {"name", "description", "debian", "layers", "cuda", "env", "labels"});
        BaseRecipe r;
        if (root["name"]) {
            r.name = scalar(root["name"], "`name`");
        }
        if (root["description"]) {
            r.description = scalar(root["description"], "`description`");
        }
        if (!root["debian"]) {
            fail(root, "the recipe has no `debian:` key",
                 "add `debian: {suite: bookworm, packages: [...]}`");
        }
        parse_debian(root["debian"], r.debian);
        r.layers = root["layers"] ? parse_layers(root["layers"]) : default_layer_groups();
        if (root["cuda"]) {
            r.cuda = parse_cuda(root["cuda"]);
        }
        if (root["env"]) {
            r.env = string_map(root["env"], "env", &k_env_re);
        }
        if (root["labels"]) {
            r.labels = string_map(root["labels"], "labels", nullptr);
        }
        if (r.max_layer_count() > k_base_max_layers) {
            fail(root["layers"] ? root["layers"] : root,
                 fmt::format("the recipe makes up to {} layers; a base may have at most {}",
                             r.max_layer_count(), k_base_max_layers),
                 "merge layer groups or select fewer CUDA components");
        }
        return r;
    }

    void parse_debian(const YAML::Node& n, DebianSpec& d) const {
        keys(n, "debian",
             {"suite", "mirror", "mirrors", "components", "variant", "architecture", "packages"});
        if (n["suite"]) {
            d.suite = scalar(n["suite"], "`debian.suite`");
            if (d.suite.empty()) {
                fail(n["suite"], "`debian.suite` is empty");
            }
        }
        if (n["mirror"] && n["mirrors"]) {
            fail(n["mirrors"], "give either `debian.mirror` or `debian.mirrors`, not both");
        }
        if (n["mirror"]) {
            d.mirrors = {scalar(n["mirror"], "`debian.mirror`")};
        }
        if (n["mirrors"]) {
            d.mirrors = list(n["mirrors"], "debian.mirrors");
            if (d.mirrors.empty()) {
                fail(n["mirrors"], "`debian.mirrors` is empty");
            }
        }
        if (n["components"]) {
            d.components = list(n["components"], "debian.components");
        }
        if (n["variant"]) {
            d.variant = scalar(n["variant"], "`debian.variant`");
            if (!k_variants.contains(d.variant)) {
                fail(n["variant"], fmt::format("unknown mmdebstrap variant `{}`", d.variant),
                     "use minbase, required, important, standard, buildd, apt or essential");
            }
        }
        if (n["architecture"]) {
            d.architecture = scalar(n["architecture"], "`debian.architecture`");
        }
        if (n["packages"]) {
            d.packages = list(n["packages"], "debian.packages", &k_package_re,
                              "Debian package names are lowercase letters, digits, + - and .; "
                              "versions go into the lock, not the recipe");
        }
    }

    std::vector<LayerGroupRule> parse_layers(const YAML::Node& n) const {
        if (!n.IsSequence()) {
            fail(n, "`layers` must be a list of {name, packages}");
        }
        std::vector<LayerGroupRule> out;
        std::set<std::string> seen = {"system", "rest"};
        for (const auto& item : n) {
            keys(item, "layers[]", {"name", "packages"});
            if (!item["name"]) {
                fail(item, "a layer group needs a `name`");
            }
            LayerGroupRule g;
            g.name = scalar(item["name"], "a layer group's `name`");
            if (!std::regex_match(g.name, k_group_re) || find_cuda_component(g.name) != nullptr ||
                g.name.starts_with("cuda")) {
                fail(item["name"], fmt::format("`{}` cannot name a layer group", g.name),
                     "use lowercase letters, digits and -, and not the names of CUDA components");
            }
            if (!seen.insert(g.name).second) {
                fail(item["name"], fmt::format("layer group `{}` is defined twice (or reserved: "
                                               "`system` and `rest` are made by envpack)",
                                               g.name));
            }
            if (item["packages"]) {
                g.patterns = list(item["packages"], "layers[].packages");
            }
            out.push_back(std::move(g));
        }
        return out;
    }

    CudaSpec parse_cuda(const YAML::Node& n) const {
        keys(n, "cuda", {"toolkit", "components", "static", "headers", "tools"});
        CudaSpec c;
        if (n["toolkit"]) {
            c.toolkit = scalar(n["toolkit"], "`cuda.toolkit`");
        }
        if (n["components"]) {
            const YAML::Node& list_node = n["components"];
            c.components = list(list_node, "cuda.components");
            size_t i = 0;
            for (const auto& item : list_node) {
                if (find_cuda_component(c.components[i]) == nullptr) {
                    fail(item, fmt::format("unknown CUDA component `{}`", c.components[i]),
                         fmt::format("known components: {}", cuda_component_names()));
                }
                ++i;
            }
        }
        if (c.components.empty()) {
            fail(n, "`cuda` needs a non-empty `components` list",
                 fmt::format("known components: {}", cuda_component_names()));
        }
        if (n["static"]) {
            c.static_libraries = boolean(n["static"], "`cuda.static`");
        }
        if (n["headers"]) {
            c.headers = boolean(n["headers"], "`cuda.headers`");
        }
        if (n["tools"]) {
            c.tools = boolean(n["tools"], "`cuda.tools`");
        }
        return c;
    }

  private:
    std::string_view m_text;
    fs::path m_file;
};

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

std::string yaml_list(const std::vector<std::string>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
        out += (i ? ", " : "") + quote(v[i]);
    }
    return out + "]";
}

}  // namespace

BaseRecipe BaseRecipe::parse(std::string_view text, const fs::path& file) {
    return Parser(text, file).run();
}

BaseRecipe BaseRecipe::load(const fs::path& file) {
    return parse(read_file(file), file);
}

std::string BaseRecipe::to_yaml() const {
    std::ostringstream o;
    o << "name: " << quote(name) << "\n";
    o << "description: " << quote(description) << "\n";
    o << "debian:\n";
    o << "  suite: " << quote(debian.suite) << "\n";
    o << "  mirrors: " << yaml_list(debian.mirrors) << "\n";
    o << "  components: " << yaml_list(debian.components) << "\n";
    o << "  variant: " << quote(debian.variant) << "\n";
    o << "  architecture: " << quote(debian.architecture) << "\n";
    o << "  packages: " << yaml_list(debian.packages) << "\n";
    o << "layers:\n";
    for (const auto& g : layers) {
        o << "  - name: " << quote(g.name) << "\n    packages: " << yaml_list(g.patterns) << "\n";
    }
    if (cuda) {
        o << "cuda:\n";
        o << "  toolkit: " << quote(cuda->toolkit.string()) << "\n";
        o << "  components: " << yaml_list(cuda->components) << "\n";
        o << "  static: " << (cuda->static_libraries ? "true" : "false") << "\n";
        o << "  headers: " << (cuda->headers ? "true" : "false") << "\n";
        o << "  tools: " << (cuda->tools ? "true" : "false") << "\n";
    }
    o << "env: {";
    bool first = true;
    for (const auto& [k, v] : env) {
        o << (first ? "" : ", ") << quote(k) << ": " << quote(v);
        first = false;
    }
    o << "}\nlabels: {";
    first = true;
    for (const auto& [k, v] : labels) {
        o << (first ? "" : ", ") << quote(k) << ": " << quote(v);
        first = false;
    }
    o << "}\n";
    return o.str();
}

Digest BaseRecipe::debian_key() const {
    Hasher h("envpack.base.debian.v1");
    h.add("suite", debian.suite);
    for (const auto& m : debian.mirrors) {
        h.add("mirror", m);
    }
    for (const auto& c : debian.components) {
        h.add("component", c);
    }
    h.add("variant", debian.variant);
    h.add("architecture", debian.architecture);
    std::vector<std::string> pkgs = debian.packages;
    std::sort(pkgs.begin(), pkgs.end());
    pkgs.erase(std::unique(pkgs.begin(), pkgs.end()), pkgs.end());
    for (const auto& p : pkgs) {
        h.add("package", p);
    }
    return h.finish();
}

std::vector<std::string> BaseRecipe::cuda_debian_packages() const {
    std::set<std::string> out;
    if (cuda) {
        for (const auto& n : cuda_component_closure(cuda->components)) {
            for (auto d : find_cuda_component(n)->debian) {
                out.emplace(d);
            }
        }
    }
    return {out.begin(), out.end()};
}

std::size_t BaseRecipe::max_layer_count() const {
    std::size_t n = layers.size() + 2;  // + system + rest
    if (cuda) {
        n += cuda_component_closure(cuda->components).size();
        n += cuda->headers ? 1 : 0;
        n += cuda->tools ? 1 : 0;
    }
    return n;
}

}  // namespace envpack
