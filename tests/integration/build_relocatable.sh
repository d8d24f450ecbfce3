#!/usr/bin/env bash
# Digests do not depend on where a checkout sits: two copies of one project (a local channel
# beside the environment file) in different folders, each built in its own ENVPACK_HOME, give the
# same manifest digest; the image names the channel as the file does (`./channel`), never this
# machine's path. A lock copied along from the first folder is stale in the second (its packages
# point into the first) and is re-solved, still to the same digest.
source "$(dirname "$0")/lib.sh"
need /usr/bin/python3
S=$SCRATCH
A=$S/one/project
B=$S/elsewhere/deeper/project
mkdir -p "$A"
cat >"$S/spec.json" <<'JSON'
[{"name": "tool", "version": "1.0", "build": "0", "depends": ["lib"], "files": {"bin/tool": {"text": "#!/bin/sh\necho tool\n", "mode": 493}}},
 {"name": "lib", "version": "1.0", "build": "0", "formats": ["conda"], "files": {"lib/lib.txt": {"text": "lib"}}}]
JSON
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$S/spec.json" "$A/channel" >/dev/null
"$ENVPACK" index "$A/channel" >/dev/null
printf 'name: rel\nchannels: [./channel]\ndependencies: [tool]\nvariables: {X: "1"}\n' >"$A/env.yml"
mkdir -p "$(dirname "$B")" && cp -a "$A" "$B"
mkdir -p "$S/rootfs/etc" && echo base >"$S/rootfs/etc/base.txt"

build_in() {  # build_in PROJECT HOME OUT.json
  ENVPACK_HOME=$2 "$ENVPACK" import "$S/rootfs" -t test/base:1 >/dev/null
  ENVPACK_HOME=$2 "$ENVPACK" build -f "$1/env.yml" --base test/base:1 -t test/rel:1 --json >"$3" 2>"$3.err" \
    || { cat "$3.err"; fail "build in $1"; }
}
digest() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$1"; }
build_in "$A" "$S/home-a" "$S/a.json"
build_in "$B" "$S/home-b" "$S/b.json"
[ "$(digest "$S/a.json")" = "$(digest "$S/b.json")" ] || fail "two checkouts, two digests: $(digest "$S/a.json") $(digest "$S/b.json")"
grep -q "file://$A/channel" "$A/conda-lock.yml" || fail "the lock should keep conda-lock's file:// URLs"

# Nothing in the image names this machine's folders; conda-meta names the channel as written.
ENVPACK_HOME=$S/home-b "$ENVPACK" inspect test/rel:1 --json >"$S/inspect.json"
if grep -q "$S" "$S/inspect.json"; then fail "the image config names a local path"; fi
/usr/bin/python3 - "$S/inspect.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
pk = json.loads(d["labels"]["org.envpack.packages"])
assert {p["channel"] for p in pk} == {"./channel"}, pk
PY
if command -v umoci >/dev/null; then
  umoci unpack --image "$S/home-b/store:test/rel:1" "$S/bundle" >/dev/null
  grep -q '"url": *"./channel/linux-64/lib-1.0-0.conda"' "$S/bundle/rootfs/opt/conda/conda-meta/lib-1.0-0.json" \
    || { cat "$S/bundle/rootfs/opt/conda/conda-meta/lib-1.0-0.json"; fail "conda-meta url"; }
  if grep -rq "$S" "$S/bundle/rootfs/opt/conda/conda-meta"; then fail "conda-meta names a local path"; fi
fi

# A lock copied from A into a third checkout: stale there (it points into A), re-solved, same digest.
C=$S/third/project
mkdir -p "$(dirname "$C")" && cp -a "$A" "$C"
build_in "$C" "$S/home-c" "$S/c.json"
grep -q "re-locked .*local channel the environment file does not name here" "$S/c.json.err" || { cat "$S/c.json.err"; fail "a copied lock should be re-solved"; }
grep -q "file://$C/channel" "$C/conda-lock.yml" || fail "the re-solved lock should point into its own checkout"
[ "$(digest "$S/c.json")" = "$(digest "$S/a.json")" ] || fail "a re-solved copy built another digest"
echo "ok: $(digest "$S/a.json")"
