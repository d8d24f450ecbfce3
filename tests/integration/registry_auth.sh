#!/bin/bash
# Credentials against real registries: htpasswd Basic auth through config.json (auths, a
# credsStore helper, REGISTRY_AUTH_FILE, DOCKER_CONFIG), `envpack login`, and the Bearer token flow
# from a token server the test runs (password and identity-token grants, token reuse). Wrong
# credentials fail with a message naming the registry and the credential source, and no secret
# ever appears on stdout, stderr or in --json output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need docker-registry skopeo curl htpasswd openssl
fail() { echo "FAIL: $*" >&2; cat "${TOKEN_LOG:-/dev/null}" >&2; exit 1; }
unset REGISTRY_AUTH_FILE DOCKER_CONFIG
export HOME=$S/fakehome   # never read the real ~/.docker/config.json
mkdir -p "$HOME"
PASSWORD='pw-S3cret!x9'
B64=$(printf 'alice:%s' "$PASSWORD" | base64 -w0)
# Everything envpack prints goes through this check.
no_secret() {
    if grep -qF -e "$PASSWORD" -e "$B64" -e "refresh-alice" "$@"; then
        fail "a secret leaked into $*"
    fi
}
run() {  # run NAME ARGS...: captures stdout/stderr into $S/NAME.out/.err, returns the exit code
    local name=$1; shift
    set +e
    "$ENVPACK" -vv "$@" >"$S/$name.out" 2>"$S/$name.err"
    local rc=$?
    set -e
    no_secret "$S/$name.out" "$S/$name.err"
    return $rc
}

"$PY" "$FIXTURES/make_layout.py" --layout "$S/src" --tag src --layers 4 --bytes 100000 >/dev/null
skopeo copy -q oci:"$S/src":src oci:"$ENVPACK_HOME/store":demo/auth:1
want=$("$ENVPACK" inspect demo/auth:1 --json | jget '["digest"]')

echo "== htpasswd Basic auth"
htpasswd -Bbn alice "$PASSWORD" >"$S/htpasswd"
start_registry basic "auth:
  htpasswd:
    realm: envpack-test
    path: $S/htpasswd"
R=$REG_basic

# no credentials anywhere
if run nocreds push demo/auth:1 "$R/team/auth:1"; then fail "push without credentials succeeded"; fi
grep -q "$R" "$S/nocreds.err" || fail "no-credential error does not name the registry"
grep -q "no credentials were found" "$S/nocreds.err" || fail "no-credential error: $(cat "$S/nocreds.err")"
grep -q "$HOME/.docker/config.json" "$S/nocreds.err" || fail "no-credential error does not say where it looked"

# login: wrong password refused, nothing written
export REGISTRY_AUTH_FILE=$S/auth.json
if echo "wrong-password" | run badlogin login "$R" -u alice --password-stdin; then fail "bad login accepted"; fi
grep -q "$R" "$S/badlogin.err" && grep -q "refused the credentials" "$S/badlogin.err" || fail "bad login: $(cat "$S/badlogin.err")"
grep -q "standard input" "$S/badlogin.err" || fail "bad login does not name the credential source"
[ ! -e "$S/auth.json" ] || fail "a refused login wrote the auth file"

# login: right password, written as docker does
echo "$PASSWORD" | run login login "$R" -u alice --password-stdin || fail "login: $(cat "$S/login.err")"
grep -q "Login Succeeded" "$S/login.out" || fail "no Login Succeeded"
"$PY" - "$S/auth.json" "$R" "$B64" <<'PY'
import json, os, stat, sys
j = json.load(open(sys.argv[1]))
assert j["auths"][sys.argv[2]]["auth"] == sys.argv[3], j
assert stat.S_IMODE(os.stat(sys.argv[1]).st_mode) == 0o600
PY
run push push demo/auth:1 "$R/team/auth:1" --json || fail "push with REGISTRY_AUTH_FILE: $(cat "$S/push.err")"
[ "$(jget '["digest"]' <"$S/push.out")" = "$want" ] || fail "push digest"
[ "$(skopeo inspect --tls-verify=false --authfile "$S/auth.json" --format '{{.Digest}}' docker://"$R/team/auth:1")" = "$want" ] \
    || fail "skopeo sees another digest"

# DOCKER_CONFIG/config.json
unset REGISTRY_AUTH_FILE
mkdir -p "$S/dockercfg"
cp "$S/auth.json" "$S/dockercfg/config.json"
export DOCKER_CONFIG=$S/dockercfg
export ENVPACK_HOME=$S/home2
run pull pull "$R/team/auth:1" --json || fail "pull with DOCKER_CONFIG: $(cat "$S/pull.err")"
[ "$(jget '["digest"]' <"$S/pull.out")" = "$want" ] || fail "pull digest"
unset DOCKER_CONFIG

# wrong password in config.json: the message names the registry and the config entry
printf '{"auths":{"%s":{"auth":"%s"}}}' "$R" "$(printf 'alice:nope' | base64 -w0)" >"$S/wrong.json"
if run wrong pull "$R/team/auth:1" --authfile "$S/wrong.json"; then fail "wrong password accepted"; fi
grep -q "registry $R refused the credentials (HTTP 401) from auths\[\"$R\"\] in $S/wrong.json" "$S/wrong.err" \
    || fail "wrong-credential message: $(cat "$S/wrong.err")"
grep -qF "$(printf 'alice:nope' | base64 -w0)" "$S/wrong.err" && fail "the wrong auth value leaked"

# credsStore: a docker-credential-* helper on PATH
mkdir -p "$S/bin"
cat >"$S/bin/docker-credential-envpacktest" <<SH
#!/bin/sh
[ "\$1" = get ] || exit 1
env | grep -E '^(GLIBC_TUNABLES|ENVPACK_HEAP_REEXEC)=' >"$S/helper-env"
read host
[ "\$host" = "$R" ] || { echo "credentials not found in native keychain"; exit 1; }
printf '{"ServerURL":"%s","Username":"alice","Secret":"%s"}' "\$host" '$PASSWORD'
SH
chmod +x "$S/bin/docker-credential-envpacktest"
echo '{"credsStore":"envpacktest"}' >"$S/helper.json"
export ENVPACK_HOME=$S/home3
# ENVPACK_TUNE_HEAP=1: the huge-page heap's re-exec (core/heap.h), usually only for lock and build
ENVPACK_TUNE_HEAP=1 PATH="$S/bin:$PATH" run helper pull "$R/team/auth:1" --authfile "$S/helper.json" --json \
    || fail "pull through credsStore helper: $(cat "$S/helper.err")"
[ "$(jget '["digest"]' <"$S/helper.out")" = "$want" ] || fail "helper pull digest"
# envpack re-executed itself for its heap; what it starts sees the caller's environment
[ ! -s "$S/helper-env" ] || fail "the credential helper saw envpack's heap tuning: $(cat "$S/helper-env")"
export ENVPACK_HOME=$S/home3b
ENVPACK_TUNE_HEAP=1 GLIBC_TUNABLES=glibc.malloc.arena_max=4 PATH="$S/bin:$PATH" run helper2 pull "$R/team/auth:1" \
    --authfile "$S/helper.json" || fail "pull through credsStore helper: $(cat "$S/helper2.err")"
[ "$(cat "$S/helper-env")" = "GLIBC_TUNABLES=glibc.malloc.arena_max=4" ] \
    || fail "the credential helper did not get the caller's GLIBC_TUNABLES: $(cat "$S/helper-env")"

echo "== Bearer tokens from a token server"
start_token_server "$S/token" "alice:$PASSWORD"
start_registry token "auth:
  token:
    realm: http://127.0.0.1:$TOKEN_PORT/token
    service: envpack-test
    issuer: envpack-test-issuer
    rootcertbundle: $TOKEN_CERT"
T=$REG_token
# the token server is right: skopeo gets in with it
skopeo copy -q --dest-tls-verify=false --dest-creds "alice:$PASSWORD" oci:"$S/src":src docker://"$T/sk/auth:1"

export REGISTRY_AUTH_FILE=$S/token-auth.json
export ENVPACK_HOME=$S/home4
if echo nope | run tbad login "$T" -u alice --password-stdin; then fail "token login with a bad password"; fi
grep -q "$T" "$S/tbad.err" || fail "token login error does not name the registry: $(cat "$S/tbad.err")"
echo "$PASSWORD" | run tlogin login "$T" -u alice --password-stdin || fail "token login: $(cat "$S/tlogin.err")"
: >"$TOKEN_LOG"
ENVPACK_HOME=$S/home run tpush push demo/auth:1 "$T/team/tok:1" --json || fail "token push: $(cat "$S/tpush.err")"
[ "$(jget '["digest"]' <"$S/tpush.out")" = "$want" ] || fail "token push digest"
tokens=$(wc -l <"$TOKEN_LOG")
echo "   tokens issued for one push of 5 blobs: $tokens"
[ "$tokens" -le 2 ] || fail "tokens are not reused ($tokens issued)"
[ "$(skopeo inspect --tls-verify=false --creds "alice:$PASSWORD" --format '{{.Digest}}' docker://"$T/team/tok:1")" = "$want" ] \
    || fail "skopeo sees another digest behind the token registry"
grep -q 'repository:team/tok:pull,push' "$TOKEN_LOG" || fail "push scope not requested: $(cat "$TOKEN_LOG")"
run tpull pull "$T/team/tok:1" --json || fail "token pull: $(cat "$S/tpull.err")"
[ "$(jget '["digest"]' <"$S/tpull.out")" = "$want" ] || fail "token pull digest"

# identity token (OAuth2 refresh-token grant), as docker stores it after an OAuth login
printf '{"auths":{"%s":{"auth":"","identitytoken":"refresh-alice"}}}' "$T" >"$S/ident.json"
export ENVPACK_HOME=$S/home5
: >"$TOKEN_LOG"
run ident pull "$T/team/tok:1" --authfile "$S/ident.json" --json || fail "identity token pull: $(cat "$S/ident.err")"
grep -q '"grant": "refresh_token"' "$TOKEN_LOG" || fail "identity token not used: $(cat "$TOKEN_LOG")"

# wrong password against the token server
printf '{"auths":{"%s":{"auth":"%s"}}}' "$T" "$(printf 'alice:nope' | base64 -w0)" >"$S/twrong.json"
if run twrong pull "$T/team/tok:1" --authfile "$S/twrong.json"; then fail "token server accepted a wrong password"; fi
grep -q "$T" "$S/twrong.err" && grep -qF "$S/twrong.json" "$S/twrong.err" || fail "token 401 message: $(cat "$S/twrong.err")"

no_secret "$S"/*.out "$S"/*.err
echo "PASS"
