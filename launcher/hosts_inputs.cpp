#include "launcher/hosts_inputs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "core/archive.h"
#include "core/compress.h"
#include "core/error.h"
#include "core/hasher.h"
#include "core/tar_writer.h"
#include "launcher/detail/transfer_header.h"
#include "launcher/hosts_node.h"
#include "launcher/node_spec.h"

namespace envpack {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_content = "content";

// The input's name: the first component under /mnt/inputs/ of a mount destination, or nullopt
// when the mount is not an input's.
std::optional<std::string> input_name_of(std::string_view destination) {
    std::string prefix = std::string(container_paths::k_inputs) + "/";
    if (!destination.starts_with(prefix)) {
        return std::nullopt;
    }
    std::string_view rest = destination.substr(prefix.size());
    return std::string(rest.substr(0, rest.find('/')));
}

Error input_error(const LocalInput& input, std::string what, std::string hint = {}) {
    return Error(fmt::format("input `{}`: {}", input.name, what),
                 hint.empty() ? fmt::format("check the job's input `{}` ({})", input.name,
                                            input.source.string())
                              : std::move(hint),
                 ExitCode::run_failed);
}

// An entry as lstat (or stat, for the input itself) describes it.
InputEntry entry_of(std::string rel, const struct stat& st) {
    InputEntry e;
    e.path = std::move(rel);
    e.type = S_ISDIR(st.st_mode) ? InputEntryType::directory : InputEntryType::file;
    if (S_ISREG(st.st_mode)) {
        e.size = static_cast<std::uint64_t>(st.st_size);
        e.executable = (st.st_mode & 0111) != 0;
    }
    e.stat.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    e.stat.ctime_ns = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
    e.stat.ino = st.st_ino;
    e.stat.dev = st.st_dev;
    e.stat.mode = st.st_mode;
    return e;
}

// The memo's key: everything the walk saw, in order (hosts_inputs.h, read_input).
Digest stat_fingerprint(const InputTree& tree) {
    Hasher h("envpack.input-memo.v1");
    h.add("root", tree.root.string());
    for (const auto& e : tree.entries) {
        h.add("path", e.path)
            .add("type", static_cast<std::int64_t>(e.type))
            .add("size", static_cast<std::int64_t>(e.size))
            .add("link", e.link_target)
            .add("mode", static_cast<std::int64_t>(e.stat.mode))
            .add("mtime", e.stat.mtime_ns)
            .add("ctime", e.stat.ctime_ns)
            .add("ino", static_cast<std::int64_t>(e.stat.ino))
            .add("dev", static_cast<std::int64_t>(e.stat.dev));
    }
    return h.finish();
}

// A memo entry: "sha256:HEX TAR_BYTES".
std::optional<std::pair<Digest, std::uint64_t>> read_memo(const fs::path& file) {
    std::error_code ec;
    if (!fs::exists(file, ec)) {
        return std::nullopt;
    }
    std::string text;
    try {
        text = read_file(file);
    } catch (const Error&) {
        return std::nullopt;  // a memo that cannot be read is a miss
    }
    auto sp = text.find(' ');
    auto digest = Digest::parse(text.substr(0, sp));
    std::uint64_t size = 0;
    if (!digest || sp == std::string::npos ||
        std::from_chars(text.data() + sp + 1, text.data() + text.size(), size).ec != std::errc()) {
        return std::nullopt;
    }
    return std::pair{*digest, size};
}

bool escapes(const fs::path& relative) {
    return !relative.empty() && *relative.begin() == "..";
}

// Walks a folder of the input (`dir` on disk, `rel` inside the input).
class InputWalker {
  public:
    InputWalker(const LocalInput& input, fs::path root, std::vector<InputEntry>& entries)
        : m_input(input), m_root(std::move(root)), m_entries(entries) {}

    void walk(const fs::path& dir, const std::string& rel) {
        std::error_code ec;
        fs::directory_iterator it(dir, ec);
        if (ec) {
            throw input_error(
                m_input, fmt::format("cannot read the folder {}: {}", shown(rel), ec.message()));
        }
        for (; it != fs::directory_iterator(); it.increment(ec)) {
            if (ec) {
                break;
            }
            std::string name = it->path().filename().string();
            std::string child = rel.empty() ? name : rel + "/" + name;
            add(it->path(), child);
        }
        if (ec) {
            throw input_error(
                m_input, fmt::format("cannot read the folder {}: {}", shown(rel), ec.message()));
        }
    }

  private:
    std::string shown(const std::string& rel) const {
        return rel.empty() ? m_input.source.string() : fmt::format("`{}`", rel);
    }

    void add(const fs::path& path, const std::string& rel) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) {
            throw input_error(m_input,
                              fmt::format("cannot read `{}`: {}", rel, std::strerror(errno)));
        }
        InputEntry e = entry_of(rel, st);
        if (S_ISDIR(st.st_mode)) {
            e.type = InputEntryType::directory;
            m_entries.push_back(e);
            walk(path, rel);
        } else if (S_ISREG(st.st_mode)) {
            m_entries.push_back(e);
        } else if (S_ISLNK(st.st_mode)) {
            e.type = InputEntryType::symlink;
            std::error_code ec;
            e.link_target = fs::read_symlink(path, ec).string();
            if (ec) {
                throw input_error(
                    m_input, fmt::format("cannot read the symlink `{}`: {}", rel, ec.message()));
            }
            check_link(path, rel, e.link_target);
            m_entries.push_back(e);
        } else {
            throw input_error(m_input,
                              fmt::format("`{}` is a {}, not a file, folder or symlink", rel,
                                          S_ISFIFO(st.st_mode)   ? "fifo"
                                          : S_ISSOCK(st.st_mode) ? "socket"
                                                                 : "device"),
                              "an input holds files, folders and symlinks inside it only");
        }
    }

    // A link must stay inside the input, both as written (it travels as written) and as the
    // launching machine resolves it (through other links).
    void check_link(const fs::path& path, const std::string& rel, const std::string& target) const {
        auto outside = [&](std::string why) {
            return input_error(
                m_input, fmt::format("the symlink `{}` -> `{}` {}", rel, target, std::move(why)),
                "an input travels to other hosts alone: its symlinks must point inside it "
                "(relative); copy the files they point to into the input instead");
        };
        if (fs::path(target).is_absolute()) {
            throw outside("is absolute: it points outside the input on every other host");
        }
        if (escapes((fs::path(rel).parent_path() / target).lexically_normal())) {
            throw outside("points outside the input");
        }
        // Resolved from the link's folder (a real folder inside the input: the walk follows no
        // link), through every link on the way, as far as the path exists.
        std::error_code ec;
        fs::path real = fs::weakly_canonical(path.parent_path() / target, ec);
        if (ec) {
            throw outside(fmt::format("cannot be resolved: {}", ec.message()));
        }
        if (escapes(real.lexically_relative(m_root))) {
            throw outside(fmt::format("resolves to {}, outside the input", real.string()));
        }
    }

    const LocalInput& m_input;
    fs::path m_root;
    std::vector<InputEntry>& m_entries;
};

class FdSink : public Sink {
  public:
    explicit FdSink(int fd) : m_fd(fd) {}
    void write(const void* data, size_t size) override {
        write_all(m_fd, data, size, "the input stream");
    }
    using Sink::write;

  private:
    int m_fd;
};

std::string member_name(const InputEntry& e) {
    std::string name =
        e.path.empty() ? std::string(k_content) : fmt::format("{}/{}", k_content, e.path);
    return e.type == InputEntryType::directory ? name + "/" : name;
}

// A file's content into `out`: exactly `e.size` bytes, or an Error naming the input.
void copy_file_data(const InputTree& tree, const InputEntry& e, Sink& out) {
    fs::path path = e.path.empty() ? tree.root : tree.root / e.path;
    std::string shown = e.path.empty() ? tree.input.source.string() : "`" + e.path + "`";
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
        throw input_error(tree.input,
                          fmt::format("cannot read {}: {}", shown, std::strerror(errno)));
    }
    std::vector<char> buf(1 << 20);
    std::uint64_t left = e.size;
    for (;;) {
        size_t want = left > 0 ? static_cast<size_t>(std::min<std::uint64_t>(left, buf.size())) : 1;
        ssize_t n = ::read(fd.get(), buf.data(), want);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw input_error(tree.input,
                              fmt::format("cannot read {}: {}", shown, std::strerror(errno)));
        }
        if (left == 0 && n == 0) {
            return;
        }
        if (n == 0 || left == 0) {
            throw input_error(tree.input, fmt::format("{} changed while it was read", shown),
                              "leave a job's inputs alone until its nodes have started");
        }
        out.write(buf.data(), static_cast<size_t>(n));
        left -= static_cast<std::uint64_t>(n);
    }
}

}  // namespace

std::vector<LocalInput> plan_local_inputs(const RunPlan& plan) {
    std::vector<LocalInput> out;
    std::set<std::string> seen;
    for (const auto& c : plan.containers) {
        for (const auto& m : c.mounts) {
            auto name = input_name_of(m.destination);
            if (!name) {
                continue;
            }
            const std::string& path = m.copy_from.empty() ? m.source : m.copy_from;
            if (seen.insert(path).second) {
                out.push_back({*name, path});
            }
        }
    }
    return out;
}

InputTree read_input(const LocalInput& input, const fs::path& digest_memo) {
    InputTree tree;
    tree.input = input;
    std::error_code ec;
    if (!fs::exists(fs::status(input.source, ec))) {
        throw input_error(input, fmt::format("{} does not exist", input.source.string()));
    }
    tree.root = fs::canonical(input.source, ec);
    struct stat st {};
    if (ec || ::stat(tree.root.c_str(), &st) != 0) {
        throw input_error(input, fmt::format("cannot resolve {}: {}", input.source.string(),
                                             ec ? ec.message() : std::strerror(errno)));
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        throw input_error(input,
                          fmt::format("{} is not a file or a folder", input.source.string()));
    }
    tree.entries.push_back(entry_of("", st));
    if (S_ISDIR(st.st_mode)) {
        InputWalker(input, tree.root, tree.entries).walk(tree.root, "");
    }
    std::sort(tree.entries.begin(), tree.entries.end(),
              [](const InputEntry& a, const InputEntry& b) { return a.path < b.path; });
    fs::path memo = digest_memo.empty() ? fs::path() : digest_memo / stat_fingerprint(tree).hex();
    if (!memo.empty()) {
        if (auto known = read_memo(memo)) {
            std::tie(tree.digest, tree.tar_bytes) = *known;
            return tree;
        }
    }
    HashingSink hash;
    write_input_tar(tree, hash);
    tree.tar_bytes = hash.size();
    tree.digest = hash.finish();
    if (!memo.empty()) {
        try {
            make_dirs(digest_memo);
            write_file_atomic(memo, fmt::format("{} {}", tree.digest.to_string(), tree.tar_bytes),
                              Durability::none);
        } catch (const Error&) {
            // A memo that cannot be written costs the next run a read, nothing else.
        }
    }
    return tree;
}

std::uint64_t write_input_tar(const InputTree& tree, Sink& out) {
    struct Counting : Sink {
        Sink& to;
        std::uint64_t n = 0;
        explicit Counting(Sink& s) : to(s) {}
        void write(const void* data, size_t size) override {
            to.write(data, size);
            n += size;
        }
        using Sink::write;
    } counting(out);
    for (const auto& e : tree.entries) {
        tar::TarHeader h;
        h.name = member_name(e);
        switch (e.type) {
            case InputEntryType::directory:
                h.typeflag = '5';
                h.mode = 0755;
                tar::write_tar_header(counting, h);
                break;
            case InputEntryType::symlink:
                h.typeflag = '2';
                h.mode = 0777;
                h.linkname = e.link_target;
                tar::write_tar_header(counting, h);
                break;
            case InputEntryType::file:
                h.typeflag = '0';
                h.mode = e.executable ? 0755 : 0644;
                h.size = e.size;
                tar::write_tar_header(counting, h);
                copy_file_data(tree, e, counting);
                tar::write_tar_padding(counting, e.size);
                break;
        }
    }
    tar::write_tar_end(counting);
    return counting.n;
}

fs::path input_cache_dir(const fs::path& home) {
    return home / "inputs";
}

fs::path input_content_path(const fs::path& cache_dir, const Digest& digest) {
    return cache_dir / std::string(digest.algorithm()) / digest.hex() / std::string(k_content);
}

std::vector<std::string> inputs_present(const fs::path& cache_dir,
                                        const std::vector<std::string>& wanted) {
    std::vector<std::string> out;
    for (const auto& w : wanted) {
        auto d = Digest::parse(w);
        std::error_code ec;
        if (d && fs::exists(fs::symlink_status(input_content_path(cache_dir, *d), ec))) {
            out.push_back(d->to_string());
        }
    }
    return out;
}

std::uint64_t write_input_stream(int fd, const std::vector<const InputTree*>& inputs) {
    FdSink out(fd);
    std::uint64_t total = 0;
    for (const InputTree* t : inputs) {
        out.write(fmt::format("input {} {}\n", t->digest.to_string(), t->tar_bytes));
        total += write_input_tar(*t, out);
    }
    out.write(std::string_view("end\n"));
    return total;
}

namespace {

// The temporary tar and folder of one input being received, removed unless placed.
class Staging {
  public:
    Staging(const fs::path& cache_dir, const Digest& digest) {
        fs::path dir = cache_dir / std::string(digest.algorithm());
        make_dirs(dir);
        std::string tag = fmt::format(".tmp-{}-{}", digest.hex().substr(0, 16), ::getpid());
        m_tar = dir / (tag + ".tar");
        m_dir = dir / tag;
        m_final = dir / digest.hex();
        std::error_code ec;
        fs::remove_all(m_dir, ec);
        fs::remove(m_tar, ec);
        make_dirs(m_dir);
    }
    ~Staging() {
        std::error_code ec;
        fs::remove(m_tar, ec);
        fs::remove_all(m_dir, ec);
    }
    Staging(const Staging&) = delete;
    Staging& operator=(const Staging&) = delete;

    const fs::path& tar() const { return m_tar; }
    const fs::path& dir() const { return m_dir; }
    // Renames the unpacked folder into place; content placed first by another receiver stays.
    void place() {
        if (::rename(m_dir.c_str(), m_final.c_str()) != 0 && errno != EEXIST &&
            errno != ENOTEMPTY) {
            throw_errno("rename to", m_final.string(), errno);
        }
    }

  private:
    fs::path m_tar, m_dir, m_final;
};

class FileSink : public Sink {
  public:
    explicit FileSink(int fd, std::string name) : m_fd(fd), m_name(std::move(name)) {}
    void write(const void* data, size_t size) override { write_all(m_fd, data, size, m_name); }
    using Sink::write;

  private:
    int m_fd;
    std::string m_name;
};

// Unpacks a received input tar into `dir`: members `content` and `content/...` only, each
// parent a folder this unpacking made (so nothing is written through a symlink), symlinks
// staying inside `content`.
void unpack_input(const fs::path& tar_path, const fs::path& dir, const std::string& what) {
    auto bad = [&](std::string why) {
        return Error(fmt::format("{}: {}", what, why), "", ExitCode::bad_input);
    };
    ArchiveReader reader(tar_path);
    std::set<std::string> folders = {""};
    while (auto e = reader.next()) {
        auto rel = safe_relative_path(e->path);
        if (!rel || (*rel != k_content && !rel->starts_with(std::string(k_content) + "/"))) {
            throw bad(fmt::format("unexpected member `{}`", e->path));
        }
        std::string parent = fs::path(*rel).parent_path().string();
        if (!folders.contains(parent)) {
            throw bad(fmt::format("`{}` is not inside a folder of the input", *rel));
        }
        fs::path to = dir / *rel;
        switch (e->type) {
            case ArchiveEntry::Type::directory:
                if (::mkdir(to.c_str(), 0755) != 0) {
                    throw_errno("mkdir", to.string(), errno);
                }
                folders.insert(*rel);
                break;
            case ArchiveEntry::Type::file: {
                mode_t mode = (e->mode & 0111) ? 0755 : 0644;
                UniqueFd fd(
                    ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
                if (fd.get() < 0) {
                    throw_errno("create", to.string(), errno);
                }
                FileSink sink(fd.get(), to.string());
                reader.read_data(sink);
                ::fchmod(fd.get(), mode);  // whatever the umask
                break;
            }
            case ArchiveEntry::Type::symlink: {
                fs::path resolved = (fs::path(parent) / e->link_target).lexically_normal();
                if (fs::path(e->link_target).is_absolute() ||
                    escapes(resolved.lexically_relative(std::string(k_content)))) {
                    throw bad(fmt::format("the symlink `{}` -> `{}` leaves the input", *rel,
                                          e->link_target));
                }
                std::error_code ec;
                fs::create_symlink(e->link_target, to, ec);
                if (ec) {
                    throw Error(fmt::format("symlink {}: {}", to.string(), ec.message()));
                }
                break;
            }
            default:
                throw bad(fmt::format("`{}` is not a file, folder or symlink", *rel));
        }
    }
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(dir / k_content, ec))) {
        throw bad("the tar holds no `content`");
    }
}

}  // namespace

int receive_input_stream(int fd, const fs::path& cache_dir) {
    FdReader in(fd);
    int count = 0;
    for (;;) {
        auto line = in.line();
        if (!line) {
            throw Error("inputs-receive: the stream ended without `end`");
        }
        auto header = detail::parse_transfer_header(*line, "input", "inputs-receive");
        if (!header) {
            return count;
        }
        const Digest& digest = header->digest;
        const std::uint64_t size = header->size;
        Staging staging(cache_dir, digest);
        {
            UniqueFd out(::open(staging.tar().c_str(),
                                O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (out.get() < 0) {
                throw_errno("create", staging.tar().string(), errno);
            }
            Sha256 hash;
            if (!in.read_exact(size, [&](std::string_view b) {
                    hash.update(b);
                    write_all(out.get(), b.data(), b.size(), staging.tar().string());
                })) {
                throw Error(
                    fmt::format("inputs-receive: the stream ended inside {}", digest.to_string()));
            }
            Digest got = hash.finish();
            if (got != digest) {
                throw Error(fmt::format("inputs-receive: the input sent as {} has digest {}",
                                        digest.to_string(), got.to_string()),
                            "the input changed while it was sent, or the transport damaged it",
                            ExitCode::failure);
            }
        }
        unpack_input(staging.tar(), staging.dir(),
                     fmt::format("inputs-receive {}", digest.to_string()));
        staging.place();
        ++count;
    }
}

void check_node_inputs(const NodeSpec& spec, const fs::path& cache_dir) {
    for (const auto& m : spec.container.mounts) {
        for (const std::string* s : {&m.source, &m.copy_from}) {
            if (!s->starts_with(k_input_relative)) {
                continue;
            }
            std::string hex = s->substr(k_input_relative.size());
            auto digest = Digest::parse("sha256:" + hex);
            std::error_code ec;
            if (!digest ||
                !fs::exists(fs::symlink_status(input_content_path(cache_dir, *digest), ec))) {
                throw Error(
                    fmt::format("node {}: input `{}` (sha256:{}) is not in this host's input "
                                "cache {}",
                                spec.node_name, input_name_of(m.destination).value_or("?"), hex,
                                cache_dir.string()),
                    "envpack run sends it before the node starts; was the cache removed meanwhile?",
                    ExitCode::run_failed);
            }
        }
    }
}

}  // namespace envpack
