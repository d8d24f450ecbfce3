#include "launcher/command_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>

namespace envpack {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_components(std::string_view path) {
    std::vector<std::string> parts;
    size_t pos = 0;
    while (pos <= path.size()) {
        size_t end = path.find('/', pos);
        if (end == std::string_view::npos) {
            end = path.size();
        }
        if (end > pos) {
            parts.emplace_back(path.substr(pos, end - pos));
        }
        pos = end + 1;
    }
    return parts;
}

constexpr std::array<std::string_view, 40> k_shell_words = {
    "if",    "then",     "else",  "elif",    "fi",      "case",     "esac",   "for",
    "while", "until",    "do",    "done",    "in",      "function", "select", "time",
    "cd",    "export",   "set",   "unset",   "exec",    "eval",     "source", ".",
    "alias", "ulimit",   "umask", "trap",    "read",    "shift",    "return", "exit",
    "local", "readonly", "wait",  "command", "builtin", "type",     "echo",   "test"};

bool plain_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '.' || c == '_' || c == '-' || c == '+' || c == ',' || c == '@' || c == '%' ||
           c == ':';
}

}  // namespace

std::optional<fs::path> resolve_in_rootfs(const fs::path& rootfs, std::string_view path) {
    std::vector<std::string> pending = split_components(path);
    std::reverse(pending.begin(), pending.end());
    std::vector<std::string> done;
    int links = 0;
    while (!pending.empty()) {
        std::string part = std::move(pending.back());
        pending.pop_back();
        if (part == ".") {
            continue;
        }
        if (part == "..") {
            if (!done.empty()) {
                done.pop_back();
            }
            continue;
        }
        fs::path host = rootfs;
        for (const auto& d : done) {
            host /= d;
        }
        host /= part;
        struct stat st {};
        if (::lstat(host.c_str(), &st) != 0) {
            return std::nullopt;
        }
        if (S_ISLNK(st.st_mode)) {
            if (++links > 40) {
                return std::nullopt;
            }
            char buf[PATH_MAX];
            ssize_t n = ::readlink(host.c_str(), buf, sizeof buf);
            if (n < 0) {
                return std::nullopt;
            }
            std::string_view target(buf, static_cast<size_t>(n));
            if (target.starts_with('/')) {
                done.clear();
            }
            auto more = split_components(target);
            for (auto it = more.rbegin(); it != more.rend(); ++it) {
                pending.push_back(*it);
            }
            continue;
        }
        done.push_back(part);
    }
    fs::path host = rootfs;
    for (const auto& d : done) {
        host /= d;
    }
    return host;
}

CommandCheck check_command(const fs::path& rootfs, std::string_view name, std::string_view path_var,
                           std::string_view cwd, std::string* found) {
    auto check_one = [&](const std::string& container_path) {
        auto host = resolve_in_rootfs(rootfs, container_path);
        if (!host) {
            return CommandCheck::not_found;
        }
        struct stat st {};
        if (::stat(host->c_str(), &st) != 0) {
            return CommandCheck::not_found;
        }
        if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
            return CommandCheck::not_executable;
        }
        if (found != nullptr) {
            *found = container_path;
        }
        return CommandCheck::runnable;
    };
    if (name.empty()) {
        return CommandCheck::not_found;
    }
    if (name.find('/') != std::string_view::npos) {
        std::string p =
            name.starts_with('/') ? std::string(name) : std::string(cwd) + "/" + std::string(name);
        return check_one(p);
    }
    // As execvp: the first runnable match wins; a match that is not executable is remembered.
    CommandCheck best = CommandCheck::not_found;
    size_t pos = 0;
    std::string_view p = path_var.empty()
                             ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                             : path_var;
    while (pos <= p.size()) {
        size_t end = p.find(':', pos);
        if (end == std::string_view::npos) {
            end = p.size();
        }
        std::string dir(p.substr(pos, end - pos));
        if (dir.empty() || !dir.starts_with('/')) {
            dir = std::string(cwd) + (dir.empty() ? "" : "/" + dir);
        }
        auto r = check_one(dir + "/" + std::string(name));
        if (r == CommandCheck::runnable) {
            return r;
        }
        if (r == CommandCheck::not_executable) {
            best = r;
        }
        pos = end + 1;
    }
    return best;
}

std::optional<std::string> first_command_word(std::string_view script) {
    size_t pos = 0;
    auto skip_space = [&] {
        while (pos < script.size() &&
               (script[pos] == ' ' || script[pos] == '\t' || script[pos] == '\n')) {
            ++pos;
        }
    };
    for (;;) {
        skip_space();
        size_t start = pos;
        while (pos < script.size() && (plain_char(script[pos]) || script[pos] == '=')) {
            ++pos;
        }
        std::string_view word = script.substr(start, pos - start);
        bool ends_word = pos == script.size() || script[pos] == ' ' || script[pos] == '\t' ||
                         script[pos] == '\n' || script[pos] == ';' || script[pos] == '&' ||
                         script[pos] == '|';
        if (word.empty() || !ends_word) {
            return std::nullopt;
        }
        auto eq = word.find('=');
        if (eq != std::string_view::npos) {
            if (eq == 0 || word.substr(0, eq).find('/') != std::string_view::npos) {
                return std::nullopt;
            }
            continue;  // an assignment before the command
        }
        if (std::find(k_shell_words.begin(), k_shell_words.end(), word) != k_shell_words.end()) {
            return std::nullopt;
        }
        return std::string(word);
    }
}

std::vector<std::string> programs_of(const std::vector<std::string>& argv) {
    std::vector<std::string> out;
    if (argv.empty()) {
        return out;
    }
    out.push_back(argv[0]);
    auto base = fs::path(argv[0]).filename().string();
    if ((base == "sh" || base == "bash" || base == "dash") && argv.size() >= 3 && argv[1] == "-c") {
        if (auto w = first_command_word(argv[2])) {
            out.push_back(*w);
        }
    }
    return out;
}

}  // namespace envpack
