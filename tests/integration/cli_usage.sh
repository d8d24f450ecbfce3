#!/bin/bash
# The command line's shape: every command listed once in --help, each answers --help with exit 0,
# unknown commands and options are usage errors (exit 2).
. "$(dirname "$0")/lib.sh"
"$ENVPACK" --help > "$SCRATCH/help"
commands=$(awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}' "$SCRATCH/help")
[ -n "$commands" ] || fail "no commands in --help"
dups=$(printf '%s\n' $commands | sort | uniq -d)
[ -z "$dups" ] || fail "listed more than once: $dups"
for c in import images inspect rm gc export snapshot lock index build push pull login; do
  grep -qx "$c" <<<"$(printf '%s\n' $commands)" || fail "--help does not list $c"
  "$ENVPACK" "$c" --help > "$SCRATCH/c.help" || fail "$c --help exited non-zero"
  grep -q "^usage: envpack $c" "$SCRATCH/c.help" || fail "$c --help prints no usage line"
done
"$ENVPACK" --version | grep -q '^envpack ' || fail "--version"
expect_exit 2 "$ENVPACK" no-such-command
grep -q "unknown command" "$SCRATCH/err" || fail "unknown command message"
expect_exit 2 "$ENVPACK" --no-such-global
expect_exit 2 "$ENVPACK"
echo "cli usage ok"
