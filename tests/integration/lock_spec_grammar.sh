#!/usr/bin/env bash
# envpack lock with conda's whole spec grammar on a hand-made local channel: a regex version, a
# regex build string, build_number with an operator, `[version='==1.7.*']`, and the forms conda reads with a
# deprecation (`<2.*`), reported as warnings with file:line:column. A malformed regex is bad input
# (exit 2) pointing at the regex's column, with the line and a caret; so is an unknown bracket key.
. "$(dirname "$0")/lib.sh"  # scratch dir, ENVPACK_HOME, fail, cleanup on exit
T=$SCRATCH

mkdir -p "$T/ch/linux-64" "$T/ch/noarch"
/usr/bin/python3 - "$T/ch/linux-64/repodata.json" <<'PY'
import json, sys
pk = {}
def add(name, version, build, number, depends=()):
    fn = f"{name}-{version}-{build}.tar.bz2"
    pk[fn] = {"name": name, "version": version, "build": build, "build_number": number,
              "depends": list(depends), "subdir": "linux-64",
              "md5": "0" * 32, "sha256": "0" * 64, "size": 1}
for v in ("1.6.0", "1.7.1", "1.10.0"):
    add("pkg", v, "h0_0", 0)
add("tool", "2.0", "py311_3", 3)
add("tool", "2.0", "py312_1", 1)
add("tool", "2.0", "py312_0", 0)
add("lib", "1.7.4", "0", 0)
add("lib", "1.8.0", "0", 0)
json.dump({"info": {"subdir": "linux-64"}, "packages": pk}, open(sys.argv[1], "w"))
PY
echo '{"info": {"subdir": "noarch"}, "packages": {}}' > "$T/ch/noarch/repodata.json"

cat > "$T/env.yml" <<YML
channels: [$T/ch]
dependencies:
  - pkg[version='^1\.(6|7)\..*\$']
  - tool[build='^py312_[0-9]+\$', build_number='<1']
  - lib[version='==1.7.*']
  - pkg <2.*
YML
"$ENVPACK" lock -f "$T/env.yml" -o "$T/lock.yml" 2> "$T/err" || { cat "$T/err" >&2; fail "lock failed"; }
/usr/bin/python3 - "$T/lock.yml" <<'PY'
import sys, yaml
pk = {p["name"]: p for p in yaml.safe_load(open(sys.argv[1]))["package"]}
assert pk["pkg"]["version"] == "1.7.1", pk["pkg"]
assert pk["tool"]["url"].endswith("tool-2.0-py312_0.tar.bz2"), pk["tool"]["url"]
assert pk["lib"]["version"] == "1.7.4", pk["lib"]
PY
grep -qE "env.yml:6:5: .*<2\.\*.*ignored" "$T/err" || { cat "$T/err" >&2; fail "no warning for <2.*"; }
grep -qE "env.yml:5:5: .*==1\.7\.\*.*prefix" "$T/err" || { cat "$T/err" >&2; fail "no warning for ==1.7.*"; }

# expect CODE PATTERN FILE: runs envpack lock, checks the exit code and that stderr matches.
expect() {
    local rc=0
    "$ENVPACK" lock -f "$3" -o "$T/out.yml" > /dev/null 2> "$T/err" || rc=$?
    [ "$rc" = "$1" ] || { cat "$T/err" >&2; fail "envpack lock -f $3 exited $rc, expected $1"; }
    grep -qE -- "$2" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks /$2/"; }
}
printf "channels: [$T/ch]\ndependencies:\n  - pkg[version='^1.(7\$']\n" > "$T/regex.yml"
expect 2 "regex.yml:3:18: invalid match spec .*invalid regular expression" "$T/regex.yml"
grep -qE '^ {19}\^' "$T/err" || { cat "$T/err" >&2; fail "the caret is not under the regex"; }

printf "channels: [$T/ch]\ndependencies:\n  - pkg >=1,^1.(7\$\n" > "$T/positional.yml"
expect 2 "positional.yml:3:13: .*invalid regular expression" "$T/positional.yml"

printf "channels: [$T/ch]\ndependencies:\n  - \"pkg[colour=red]\"\n" > "$T/key.yml"
expect 2 "key.yml:3:10: .*cannot match on field .colour." "$T/key.yml"

printf "channels: [$T/ch]\ndependencies:\n  - pkg[version='^1.(?P<x>7)\$']\n" > "$T/python.yml"
expect 2 "python.yml:3:21: .*Python-only named groups" "$T/python.yml"
echo "lock_spec_grammar: ok"
