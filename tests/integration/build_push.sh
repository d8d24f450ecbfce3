#!/usr/bin/env bash
# envpack build with a base that names a registry (pulled first when not in the store) and
# --push to Debian's docker-registry on a free port of 127.0.0.1; skopeo reads the pushed image.
set -euo pipefail
: "${ENVPACK:?}"
source "$(dirname "$0")/lib.sh"
need docker-registry skopeo curl zstd
start_registry main
export ENVPACK_HOME=$S/home1
cat >"$S/spec.json" <<'JSON'
[{"name": "tool", "version": "1.0", "build": "0", "files": {"bin/tool": {"text": "#!/bin/sh\necho tool\n", "mode": 493}}}]
JSON
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$S/spec.json" "$S/channel" >/dev/null
"$ENVPACK" index "$S/channel" >/dev/null
printf 'name: p\nchannels: [./channel]\ndependencies: [tool]\n' >"$S/env.yml"
"$ENVPACK" lock -f "$S/env.yml" >/dev/null
mkdir -p "$S/rootfs/etc" && echo base >"$S/rootfs/etc/base.txt"
"$ENVPACK" import "$S/rootfs" -t "$REG_main/test/base:1" >/dev/null
"$ENVPACK" push "$REG_main/test/base:1" >/dev/null

# A fresh home: the base is pulled from the registry, the result pushed.
export ENVPACK_HOME=$S/home2
"$ENVPACK" build -f "$S/env.yml" --base "$REG_main/test/base:1" -t test/env:1 \
  --push "$REG_main/test/env:1" --json >"$S/build.json"
digest=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["pushed"]["digest"]==d["digest"], d; print(d["digest"])' "$S/build.json")
remote=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG_main/test/env:1")
[ "$remote" = "$digest" ] || fail "registry has $remote, built $digest"
labels=$(skopeo inspect --tls-verify=false "docker://$REG_main/test/env:1")
grep -q 'org.envpack.build-key' <<<"$labels" || fail "labels"
key=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["build_key"])' "$S/build.json")
cache_digest=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG_main/test/env:envpack-${key:0:32}")
[ "$cache_digest" = "$digest" ] || fail "cache tag envpack-${key:0:32} missing or different"

# Another machine (a fresh home) asking for the same environment and push target: the registry's
# cache tag answers, nothing is built, and the requested tag is pushed too.
export ENVPACK_HOME=$S/home3
"$ENVPACK" build -f "$S/env.yml" --base "$REG_main/test/base:1" -t test/env:1 \
  --push "$REG_main/test/env:2" --json --explain >"$S/build3.json" 2>"$S/build3.err"
/usr/bin/python3 - "$S/build3.json" "$digest" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["cached"] and d["cached_remote"], d
assert d["digest"] == sys.argv[2] and d["layers_written"] == 0, d
assert d["pushed"]["uploaded"] == 0, d
PY
grep -q "from the registry" "$S/build3.err" || fail "--explain does not say the registry answered"
[ "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG_main/test/env:2")" = "$digest" ] || fail "env:2 not pushed"
echo ok
