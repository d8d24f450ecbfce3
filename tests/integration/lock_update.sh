#!/usr/bin/env bash
# envpack lock --update NAME: only NAME moves to its newest version; the rest of the existing lock
# stays where it was although newer versions appeared. Without --update everything moves.
# --update without a lock to update is bad input (exit 2).
. "$(dirname "$0")/lib.sh"  # scratch dir, ENVPACK_HOME, fail, cleanup on exit
T=$SCRATCH
mkdir -p "$T/ch/linux-64" "$T/ch/noarch"
echo '{"info": {"subdir": "noarch"}, "packages": {}}' > "$T/ch/noarch/repodata.json"
channel() {  # channel VERSION...: a and b at each version
    /usr/bin/python3 - "$T/ch/linux-64/repodata.json" "$@" <<'PY'
import json, sys
pk = {}
for v in sys.argv[2:]:
    for n in ("a", "b"):
        pk[f"{n}-{v}-0.tar.bz2"] = {"name": n, "version": v, "build": "0", "build_number": 0,
            "depends": [], "subdir": "linux-64", "md5": "0" * 32, "sha256": "0" * 64, "size": 1}
json.dump({"info": {"subdir": "linux-64"}, "packages": pk}, open(sys.argv[1], "w"))
PY
}
versions() {  # versions LOCK: "a=V b=V"
    /usr/bin/python3 -c 'import sys, yaml
pk = {p["name"]: p["version"] for p in yaml.safe_load(open(sys.argv[1]))["package"]}
print(" ".join(f"{n}={pk[n]}" for n in sorted(pk)))' "$1"
}
printf "channels: [$T/ch]\ndependencies: [a, b]\n" > "$T/env.yml"

rc=0
"$ENVPACK" lock -f "$T/env.yml" --update a 2> "$T/err" || rc=$?
[ "$rc" = 2 ] || { cat "$T/err" >&2; fail "--update without a lock exited $rc, expected 2"; }

channel 1.0
"$ENVPACK" lock -f "$T/env.yml" 2> "$T/err" || { cat "$T/err" >&2; fail "first lock failed"; }
[ "$(versions "$T/conda-lock.yml")" = "a=1.0 b=1.0" ] || fail "first lock: $(versions "$T/conda-lock.yml")"

channel 1.0 2.0
"$ENVPACK" lock -f "$T/env.yml" --update a 2> "$T/err" || { cat "$T/err" >&2; fail "--update a failed"; }
[ "$(versions "$T/conda-lock.yml")" = "a=2.0 b=1.0" ] || fail "--update a: $(versions "$T/conda-lock.yml")"

"$ENVPACK" lock -f "$T/env.yml" 2> "$T/err" || { cat "$T/err" >&2; fail "fresh lock failed"; }
[ "$(versions "$T/conda-lock.yml")" = "a=2.0 b=2.0" ] || fail "fresh lock: $(versions "$T/conda-lock.yml")"
echo "lock_update: ok"
