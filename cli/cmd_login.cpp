// envpack login REGISTRY -u USER --password-stdin: check and save credentials like docker login.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/context.h"
#include "core/error.h"
#include "registry/client.h"
#include "registry/credentials.h"

namespace envpack::cli {

int cmd_login(Context& ctx, const std::vector<std::string>& argv) {
    auto specs = registry_option_specs();
    specs.push_back({"--username", "-u", true});
    specs.push_back({"--password-stdin", "", false});
    specs.push_back({"--no-check", "", false});
    Args args("login", argv, specs);
    args.expect_at_most(1);
    std::string host = args.positional(0, "the registry (HOST[:PORT])");
    if (host.find('/') != std::string::npos || host.empty()) {
        throw bad_input(
            fmt::format("login: `{}` is not a registry host", host),
            "give HOST or HOST:PORT, e.g. `envpack login localhost:5000 -u me --password-stdin`");
    }
    auto user = args.value("--username");
    if (!user || user->empty()) {
        throw bad_input("login: give the user name with -u USER");
    }
    if (!args.flag("--password-stdin")) {
        throw bad_input("login: pass the password on standard input with --password-stdin",
                        "echo \"$PASSWORD\" | envpack login HOST -u USER --password-stdin");
    }
    std::string password((std::istreambuf_iterator<char>(std::cin)),
                         std::istreambuf_iterator<char>());
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
        password.pop_back();
    }
    if (password.empty()) {
        throw bad_input("login: the password read from standard input is empty");
    }
    RegistryOptions options = registry_options_from(args);
    CredentialOptions co;
    co.auth_file = options.auth_file;
    if (!args.flag("--no-check")) {
        Credential c;
        c.username = *user;
        c.password = password;
        c.source = fmt::format("the password given on standard input for user `{}`", *user);
        RegistryClient client(options, ctx.log);
        client.check_credential(host, c);
    }
    auto file = store_credential(host, *user, password, co);
    ctx.log.infof("credentials for {} saved in {}", host, file.string());
    std::printf("Login Succeeded\n");
    return 0;
}

}  // namespace envpack::cli
