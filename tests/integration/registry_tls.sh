#!/bin/bash
# TLS: a docker-registry serving https with a self-signed certificate on 127.0.0.1. Without the CA
# envpack refuses (and says how to fix it), with --ca-cert it pushes and pulls over https (system
# CAs kept), and --insecure-registry HOST skips verification for that host only.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need docker-registry skopeo curl openssl
mkdir -p "$S/certs"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$S/certs/key.pem" -out "$S/certs/ca.crt" -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
start_registry tls "  tls:
    certificate: $S/certs/ca.crt
    key: $S/certs/key.pem"
R=$REG_tls

"$PY" "$FIXTURES/make_layout.py" --layout "$S/src" --tag src --layers 2 --bytes 50000 >/dev/null
skopeo copy -q oci:"$S/src":src oci:"$ENVPACK_HOME/store":demo/tls:1
want=$("$ENVPACK" inspect demo/tls:1 --json | jget '["digest"]')

echo "== no CA: refused with a hint"
set +e
"$ENVPACK" push demo/tls:1 "$R/tls/img:1" --retries 0 >"$S/out" 2>"$S/err"; rc=$?
set -e
[ $rc = 1 ] || fail "push to an untrusted https registry exited $rc: $(cat "$S/err")"
grep -qi "certificate" "$S/err" || fail "the error does not mention the certificate: $(cat "$S/err")"
grep -q -- "--ca-cert" "$S/err" || fail "no --ca-cert hint: $(cat "$S/err")"
echo "   ok: $(head -1 "$S/err" | cut -c1-160)"

echo "== --ca-cert: https push and pull"
"$ENVPACK" push demo/tls:1 "$R/tls/img:1" --ca-cert "$S/certs/ca.crt" --json >"$S/push.json"
[ "$(jget '["digest"]' <"$S/push.json")" = "$want" ] || fail "push digest"
[ "$(skopeo inspect --cert-dir "$S/certs" --format '{{.Digest}}' docker://"$R/tls/img:1")" = "$want" ] \
    || fail "skopeo (verifying TLS) sees another digest"
ENVPACK_HOME=$S/home2 "$ENVPACK" pull "$R/tls/img:1" --ca-cert "$S/certs/ca.crt" --json >"$S/pull.json"
[ "$(jget '["digest"]' <"$S/pull.json")" = "$want" ] || fail "pull digest"

echo "== --insecure-registry HOST: no verification for that host"
ENVPACK_HOME=$S/home3 "$ENVPACK" pull "$R/tls/img:1" --insecure-registry "$R" --json >"$S/pull3.json"
[ "$(jget '["digest"]' <"$S/pull3.json")" = "$want" ] || fail "insecure pull digest"
set +e
ENVPACK_HOME=$S/home4 "$ENVPACK" pull "$R/tls/img:1" --insecure-registry 127.0.0.1:1 --retries 0 >/dev/null 2>&1; rc=$?
set -e
[ $rc = 1 ] || fail "--insecure-registry for another host must not relax this one"

echo "PASS"
