#!/usr/bin/env bash
# .netrc credentials for HTTP channels: a channel server that requires Basic auth (port 0) is
# locked with the password from $NETRC, and from ~/.netrc when NETRC is unset; without
# credentials, or with a wrong password, the lock exits 1 naming the URL and HTTP 401, and the
# password never reaches stdout, stderr or the lock file. Sharded and plain channels both.
source "$(dirname "$0")/lib.sh"
: "${ENVPACK_SHARED_DIR:?}"
T=$SCRATCH
export ENVPACK_HTTP_TIMEOUT=5 ENVPACK_HTTP_RETRIES=0
LOG="$T/requests.log"
fail() { echo "FAIL: $*" >&2; [ -f "$LOG" ] && tail -20 "$LOG" >&2; exit 1; }
SECRET='pa55-w0rd-xyzzy'

mkdir -p "$T/www"
cp -r "$ENVPACK_SHARED_DIR/data/conda/channels/conda-forge-numpy" "$T/www/plain"
cp -r "$ENVPACK_SHARED_DIR/data/conda/channels/conda-format-repo" "$T/www/sharded"
rm -f "$T/www/sharded/linux-64/repodata.json"
"$PY" "$ENVPACK_SOURCE_DIR/tests/fixtures/channel_server.py" --dir "$T/www" --log "$LOG" \
  --auth "alice:$SECRET" --port-file "$T/port" > /dev/null 2>&1 &
SERVER=$!
track_pid "$SERVER"
URL="http://127.0.0.1:$(wait_port_file "$T/port" "$SERVER")"
printf "channels: [$URL/plain]\ndependencies: [numpy]\n" > "$T/env.yml"
printf "channels: [$URL/sharded]\ndependencies: [zlib]\n" > "$T/zlib.yml"

no_secret() {
  for f in "$@"; do
    ! grep -q "$SECRET" "$f" || fail "the password appears in $(basename "$f")"
  done
}

# 1. No credentials: 401, exit 1, naming the URL.
rc=0; NETRC="$T/none" HOME="$T/nohome" "$ENVPACK" lock -f "$T/env.yml" -o - > "$T/out" 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/err"; fail "no credentials exited $rc"; }
grep -q "$URL/plain/linux-64/repodata.json.*HTTP 401" "$T/err" || fail "401 message: $(cat "$T/err")"
grep -q 'auth=no' "$LOG" || fail "server saw no unauthenticated request"

# 2. $NETRC with the right password.
printf 'machine example.com login bob password other\nmachine 127.0.0.1\n  login alice\n  password %s\n' \
  "$SECRET" > "$T/netrc"
: > "$LOG"
NETRC="$T/netrc" "$ENVPACK" lock -f "$T/env.yml" -o "$T/a.lock" > "$T/out" 2> "$T/err" \
  || { cat "$T/err"; fail "lock with \$NETRC failed"; }
NETRC="$T/netrc" "$ENVPACK" lock -f "$T/zlib.yml" -o "$T/z.lock" >> "$T/out" 2>> "$T/err" \
  || { cat "$T/err"; fail "lock of the sharded channel with \$NETRC failed"; }
grep -q 'zlib-1.2.11' "$T/z.lock" || fail "zlib (sharded channel) not locked"
grep -q 'numpy-' "$T/a.lock" || fail "numpy (plain channel) not locked"
grep -q '/sharded/linux-64/[0-9a-f]\{64\}\.msgpack\.zst 200 auth=yes' "$LOG" || fail "shards not fetched with credentials"
! grep -q ' 401 ' "$LOG" || fail "a request was refused although credentials were given"
no_secret "$T/out" "$T/err" "$T/a.lock" "$T/z.lock"

# 3. ~/.netrc when NETRC is unset.
mkdir -p "$T/home"
cp "$T/netrc" "$T/home/.netrc"
rm -rf "$ENVPACK_HOME/repodata"
(unset NETRC; HOME="$T/home" "$ENVPACK" lock -f "$T/env.yml" -o "$T/b.lock" 2> "$T/err" &&
  HOME="$T/home" "$ENVPACK" lock -f "$T/zlib.yml" -o "$T/y.lock" 2>> "$T/err") \
  || { cat "$T/err"; fail "lock with ~/.netrc failed"; }
cmp "$T/a.lock" "$T/b.lock" || fail "~/.netrc lock differs"
cmp "$T/z.lock" "$T/y.lock" || fail "~/.netrc lock of the sharded channel differs"

# 4. A wrong password: exit 1, neither password printed.
printf 'machine 127.0.0.1 login alice password wrong-%s\n' "$SECRET" > "$T/bad-netrc"
rm -rf "$ENVPACK_HOME/repodata"
rc=0; NETRC="$T/bad-netrc" "$ENVPACK" -v lock -f "$T/env.yml" -o - > "$T/out" 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/err"; fail "wrong password exited $rc"; }
grep -q 'HTTP 401' "$T/err" || fail "wrong-password message: $(cat "$T/err")"
no_secret "$T/out" "$T/err"
grep -q 'Authorization\|Basic ' "$T/err" && fail "an Authorization header was printed"
echo "lock_netrc: ok"
