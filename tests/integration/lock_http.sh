#!/usr/bin/env bash
# envpack lock against HTTP channels served by a small Python server on 127.0.0.1 (port 0):
# repodata.json.zst preferred, repodata.json fallback, the cache under $ENVPACK_HOME/repodata
# (max-age served from cache with no request; ETag revalidation answered 304), --offline from the
# cache with the server gone, and failures: 404, 500 (retried, then an error naming the URL),
# a server that never answers (timeout, retried, error naming the URL).
source "$(dirname "$0")/lib.sh"
: "${ENVPACK_SHARED_DIR:?}"
CH="$ENVPACK_SHARED_DIR/data/conda/channels"
need zstd
T=$SCRATCH
export ENVPACK_HTTP_TIMEOUT=2 ENVPACK_HTTP_RETRIES=2
fail() { echo "FAIL: $*" >&2; [ -f "$T/requests.log" ] && cat "$T/requests.log" >&2; exit 1; }

# Served tree: /zst/ has repodata.json.zst only, /json/ has repodata.json only.
mkdir -p "$T/www/zst/linux-64" "$T/www/zst/noarch" "$T/www/json/linux-64" "$T/www/json/noarch"
zstd -q -c "$CH/conda-forge-numpy/linux-64/repodata.json" > "$T/www/zst/linux-64/repodata.json.zst"
zstd -q -c "$CH/conda-forge-numpy/noarch/repodata.json" > "$T/www/zst/noarch/repodata.json.zst"
cp "$CH/conda-test-index/linux-64/repodata.json" "$T/www/json/linux-64/"
cp "$CH/conda-test-index/noarch/repodata.json" "$T/www/json/noarch/"
echo 0 > "$T/max-age"

cat > "$T/server.py" <<'PY'
import hashlib, http.server, os, sys, time
root, log_path, age_path = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def record(self, status):
        with open(log_path, "a") as f:
            f.write(f"{self.command} {self.path} {status} inm={self.headers.get('If-None-Match', '-')}\n")
    def do_GET(self):
        if self.path.startswith("/error500/"):
            self.record(500); self.send_response(500); self.send_header("Content-Length", "0"); self.end_headers(); return
        if self.path.startswith("/slow/"):
            self.record("slow"); time.sleep(30); return
        path = os.path.join(root, self.path.lstrip("/"))
        if not os.path.isfile(path):
            self.record(404); self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        data = open(path, "rb").read()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        age = open(age_path).read().strip()
        if self.headers.get("If-None-Match") == etag:
            self.record(304); self.send_response(304); self.send_header("ETag", etag)
            self.send_header("Cache-Control", f"public, max-age={age}"); self.end_headers(); return
        self.record(200)
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", "Wed, 01 May 2024 00:00:00 GMT")
        self.send_header("Cache-Control", f"public, max-age={age}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(srv.server_address[1], flush=True)
srv.serve_forever()
PY
"$PY" "$T/server.py" "$T/www" "$T/requests.log" "$T/max-age" > "$T/port" &
SERVER_PID=$!
track_pid "$SERVER_PID"
PORT=$(wait_port_file "$T/port" "$SERVER_PID")
URL="http://127.0.0.1:$PORT"
: > "$T/requests.log"

printf "channels: [$URL/zst, $URL/json/]\ndependencies: [numpy, blosc]\n" > "$T/env.yml"
count() { grep -c "$1" "$T/requests.log" || true; }

# 1. First lock: .zst for the first channel; .zst 404 then .json for the second.
"$ENVPACK" lock -f "$T/env.yml" -o "$T/a.lock" 2> "$T/err" || { cat "$T/err"; fail "first lock failed"; }
[ "$(count 'GET /zst/linux-64/repodata.json.zst 200')" = 1 ] || fail "zst not fetched once"
[ "$(count 'GET /json/linux-64/repodata.json.zst 404')" = 1 ] || fail "no zst probe on the json channel"
[ "$(count 'GET /json/linux-64/repodata.json 200')" = 1 ] || fail "json fallback not fetched"
grep -q "numpy-1.26.4" "$T/a.lock" || fail "numpy not locked from the zst channel"
grep -q "json/linux-64/blosc-1.1.5" "$T/a.lock" || fail "blosc not locked from the json channel"
grep -q "url: 'http://127.0.0.1:$PORT/zst/linux-64/" "$T/a.lock" || fail "urls not from the served channel"
ls "$ENVPACK_HOME"/repodata/*/repodata.json > /dev/null || fail "no cache entries"

# 2. max-age 0: the cache is revalidated with If-None-Match and the server answers 304.
: > "$T/requests.log"
"$ENVPACK" lock -f "$T/env.yml" -o "$T/b.lock" 2> "$T/err" || { cat "$T/err"; fail "second lock failed"; }
cmp "$T/a.lock" "$T/b.lock" || fail "a 304 changed the lock"
[ "$(count ' 304 inm="')" = 4 ] || fail "expected 4 revalidations answered 304"
[ "$(count ' 200 ')" = 0 ] || fail "a body was downloaded again"

# 3. A fresh max-age: the next lock makes no request at all.
echo 600 > "$T/max-age"
rm -rf "$ENVPACK_HOME/repodata"
"$ENVPACK" lock -f "$T/env.yml" -o "$T/c.lock" 2>/dev/null
: > "$T/requests.log"
"$ENVPACK" lock -f "$T/env.yml" -o "$T/d.lock" 2>/dev/null
[ ! -s "$T/requests.log" ] || fail "requests made although the cache was fresh"
cmp "$T/a.lock" "$T/d.lock" || fail "cached lock differs"

# 4. --offline with the server stopped uses the cache; without a cache it names the URL.
stop_pid "$SERVER_PID"
"$ENVPACK" lock -f "$T/env.yml" -o "$T/e.lock" --offline 2>/dev/null || fail "--offline failed with a cache"
cmp "$T/a.lock" "$T/e.lock" || fail "offline lock differs"
rc=0; ENVPACK_HOME="$T/empty" "$ENVPACK" lock -f "$T/env.yml" -o - --offline > /dev/null 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || fail "offline without cache exited $rc"
grep -q "offline and not in the cache" "$T/err" || fail "offline error unclear: $(cat "$T/err")"
grep -q "$URL/zst/linux-64" "$T/err" || fail "offline error does not name the URL"

# Restart the server for the failure cases.
: > "$T/port"
"$PY" "$T/server.py" "$T/www" "$T/requests.log" "$T/max-age" > "$T/port" &
SERVER_PID=$!
track_pid "$SERVER_PID"
URL="http://127.0.0.1:$(wait_port_file "$T/port" "$SERVER_PID")"
export ENVPACK_HOME="$T/home2"

# 5. 404 for both variants: exit 1 naming the URL.
printf "channels: [$URL/missing]\ndependencies: [numpy]\n" > "$T/404.yml"
rc=0; "$ENVPACK" lock -f "$T/404.yml" -o - > /dev/null 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || fail "404 exited $rc"
grep -q "fetch repodata .$URL/missing/linux-64/repodata.json.: HTTP 404" "$T/err" || fail "404 error: $(cat "$T/err")"

# 6. 500: retried (ENVPACK_HTTP_RETRIES=2 -> 3 attempts), then an error naming the URL.
: > "$T/requests.log"
printf "channels: [$URL/error500]\ndependencies: [numpy]\n" > "$T/500.yml"
rc=0; "$ENVPACK" lock -f "$T/500.yml" -o - > /dev/null 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || fail "500 exited $rc"
grep -q "$URL/error500/linux-64/repodata.json.zst.: HTTP 500 (after 3 attempts)" "$T/err" || fail "500 error: $(cat "$T/err")"
[ "$(count 'GET /error500/linux-64/repodata.json.zst 500')" = 3 ] || fail "500 not retried twice"

# 7. A server that accepts and never answers: timeout, retried, error naming the URL.
: > "$T/requests.log"
printf "channels: [$URL/slow]\ndependencies: [numpy]\n" > "$T/slow.yml"
rc=0; start=$(date +%s)
"$ENVPACK" lock -f "$T/slow.yml" -o - > /dev/null 2> "$T/err" || rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" = 1 ] || fail "timeout exited $rc"
grep -q "$URL/slow/linux-64/repodata.json.zst" "$T/err" || fail "timeout error: $(cat "$T/err")"
[ "$(count 'GET /slow/linux-64/repodata.json.zst slow')" = 3 ] || fail "timeout not retried twice"
[ "$took" -lt 25 ] || fail "timeouts took $took s"
echo "lock_http: ok"
