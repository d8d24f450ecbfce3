// A small command-line parser shared by the subcommands: flags, options with values (repeatable),
// and positionals. Unknown options are a usage error (exit code 2) naming the option.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace envpack::cli {

struct OptionSpec {
    std::string name;        // "--tag"
    std::string short_name;  // "-t" or empty
    bool takes_value = false;
};

class Args {
  public:
    // Parses `argv` (the words after the subcommand). `command` names it in errors.
    Args(std::string command, const std::vector<std::string>& argv,
         const std::vector<OptionSpec>& specs);

    bool flag(const std::string& name) const { return m_values.contains(name); }
    std::optional<std::string> value(const std::string& name) const;
    std::vector<std::string> values(const std::string& name) const;
    const std::vector<std::string>& positionals() const { return m_positionals; }
    // The i-th positional or a usage error naming `what`.
    const std::string& positional(size_t i, const std::string& what) const;
    // Usage error if there are more than `n` positionals.
    void expect_at_most(size_t n) const;
    // Parses an unsigned integer option (e.g. --max-bytes); usage error if malformed.
    std::optional<unsigned long long> uint_value(const std::string& name) const;

  private:
    std::string m_command;
    std::map<std::string, std::vector<std::string>> m_values;
    std::vector<std::string> m_positionals;
};

}  // namespace envpack::cli
