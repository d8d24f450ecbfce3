#!/bin/bash
# Bad input and hostile endpoints: malformed references (exit 2), unknown hosts, nothing
# listening, a web server that answers HTML instead of the distribution API, a plain 404 server,
# a missing tag, a registry whose manifest endpoint answers HTML. Each fails with a message that
# names the operand.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need docker-registry skopeo curl
export HOME=$S/fakehome
unset REGISTRY_AUTH_FILE DOCKER_CONFIG
expect() {  # expect CODE PATTERN ARGS...: envpack ARGS must exit CODE with PATTERN on stderr
    local code=$1 pattern=$2; shift 2
    set +e
    "$ENVPACK" "$@" >"$S/out" 2>"$S/err"
    local rc=$?
    set -e
    [ $rc = "$code" ] || fail "envpack $* exited $rc, expected $code: $(cat "$S/err")"
    grep -qE -- "$pattern" "$S/err" || fail "envpack $*: stderr lacks /$pattern/: $(cat "$S/err")"
    echo "   ok: envpack $* -> $(head -1 "$S/err" | cut -c1-150)"
}

echo "== malformed references and usage"
expect 2 "invalid image reference \`demo/UPPER:1\`" pull demo/UPPER:1
expect 2 "invalid image reference \`127.0.0.1:5000/x:\`" pull 127.0.0.1:5000/x:
expect 2 "invalid image reference" pull 'localhost:5000/x@sha256:1234'
expect 2 "invalid image reference \`a b\`" push demo/x:1 'a b'
expect 2 "names no registry" push demo/x:1 other/x:1
expect 2 "missing the image to pull" pull
expect 2 "unknown option" pull --bogus localhost:1/x
expect 2 "platform" pull --platform nonsense localhost:1/x:1
expect 2 "password-stdin" login localhost:5000 -u me
expect 2 "not a registry host" login localhost:5000/x -u me --password-stdin </dev/null

start_registry main
R=$REG_main
expect 2 "demo/missing:1" push demo/missing:1 "$R/x/y:1"

echo "== nothing listening"
port=$(unused_port)
expect 1 "registry 127.0.0.1:$port: .*(connect|Connection refused)" pull "127.0.0.1:$port/x/y:1" --retries 1

echo "== unknown host (in an empty network namespace: no packet leaves the machine)"
if unshare -n true 2>/dev/null; then
    set +e
    unshare -n "$ENVPACK" pull nonexistent-registry.invalid/x/y:1 --retries 0 >"$S/out" 2>"$S/err"
    rc=$?
    set -e
    [ $rc = 1 ] || fail "unknown host exit $rc: $(cat "$S/err")"
    grep -q "registry nonexistent-registry.invalid: .*resolve host" "$S/err" || fail "unknown host: $(cat "$S/err")"
    grep -q "check the host name" "$S/err" || fail "unknown host hint: $(cat "$S/err")"
    echo "   ok: $(head -1 "$S/err")"
else
    skip_part "unknown host: unshare -n is not permitted here"
fi

echo "== a web server that answers HTML"
mkdir -p "$S/www/v2"
echo '<!DOCTYPE html><html><body>It works!</body></html>' >"$S/www/v2/index.html"
start_static_server www "$S/www"
wport=$STATIC_PORT_www
expect 1 "HTML page, not the OCI distribution API" pull "127.0.0.1:$wport/x/y:1"

echo "== a server that is not a registry (404 at /v2/)"
mkdir -p "$S/empty"
start_static_server empty "$S/empty"
eport=$STATIC_PORT_empty
expect 1 "answered HTTP 404.*not an OCI distribution registry" pull "127.0.0.1:$eport/x/y:1"

echo "== a registry whose manifests come back as HTML"
start_fault_proxy html "$R" '[{"match": "^GET /v2/.+/manifests/", "action": "html", "times": -1}]'
"$PY" "$FIXTURES/make_layout.py" --layout "$S/src" --tag src --layers 1 --bytes 1000 >/dev/null
skopeo copy -q --dest-tls-verify=false oci:"$S/src":src docker://"$R/x/y:1"
expect 1 "HTML page instead of a manifest" pull "$PROXY_html/x/y:1"

echo "== a tag that does not exist"
expect 1 "not found in registry $R" pull "$R/x/y:nope"
expect 1 "not found in registry $R" pull "$R/no/such/repo:1"

echo "PASS"
