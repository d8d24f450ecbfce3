#!/usr/bin/env bash
# envpack lock with a .condarc (CONDARC): the channel alias, the channels of a file that names
# none, custom_channels and default_channels, over a test server that refuses every request
# without the channel token (`/t/TOKEN/`). A wrong token fails (exit 1) and no token, right or
# wrong, is printed; --solution first keeps libsolv's answer. `envpack build` reads the same
# .condarc: a file naming a channel by name builds from the alias's token channel.
. "$(dirname "$0")/lib.sh"  # scratch dir, ENVPACK_HOME, fail, cleanup on exit
T=$SCRATCH
TOKEN=s3cr3t-T0KEN-4711

mkdir -p "$T/www"
/usr/bin/python3 - "$T/www" <<'PY'
import json, os, sys
root = sys.argv[1]
def channel(name, pkgs):
    for sub in ("linux-64", "noarch"):
        os.makedirs(f"{root}/{name}/{sub}", exist_ok=True)
        packages = {f"{n}-{v}-0.tar.bz2": {"name": n, "version": v, "build": "0", "build_number": 0,
                    "depends": d, "subdir": sub, "md5": "0" * 32, "sha256": "0" * 64, "size": 1}
                    for n, v, d in pkgs} if sub == "linux-64" else {}
        json.dump({"info": {"subdir": sub}, "packages": packages}, open(f"{root}/{name}/{sub}/repodata.json", "w"))
channel("mychan", [("app", "1.0", ["python"]), ("app", "2.0", ["python"]),
                   ("python", "3.11.8", []), ("python", "3.12.2", [])])
channel("private", [("secret-lib", "0.3", [])])
channel("main", [("zlib", "1.3", [])])
PY
cat > "$T/server.py" <<'PY'
import http.server, os, sys
root, token, log_path = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self, status, data=b""):
        with open(log_path, "a") as f:
            f.write(f"{self.command} {self.path} {status}\n")
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        prefix = f"/t/{token}/"
        if not self.path.startswith(prefix):
            return self.answer(403)
        path = os.path.join(root, self.path[len(prefix):])
        if not os.path.isfile(path):
            return self.answer(404)
        self.answer(200, open(path, "rb").read())
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(srv.server_address[1], flush=True)
srv.serve_forever()
PY
"$PY" "$T/server.py" "$T/www" "$TOKEN" "$T/requests.log" > "$T/port" &
SERVER_PID=$!
track_pid "$SERVER_PID"
URL="http://127.0.0.1:$(wait_port_file "$T/port" "$SERVER_PID")"

cat > "$T/condarc" <<YML
channels: [mychan, defaults]
channel_alias: $URL/t/$TOKEN
default_channels: [$URL/t/$TOKEN/main]
custom_channels:
  private: $URL/t/$TOKEN
ssl_verify: true
YML
printf 'dependencies: [app, zlib]\n' > "$T/env.yml"
CONDARC="$T/condarc" "$ENVPACK" -v lock -f "$T/env.yml" -o "$T/a.lock" > "$T/out" 2> "$T/err" \
  || { cat "$T/err" >&2; fail "lock through the .condarc channels failed"; }
/usr/bin/python3 - "$T/a.lock" <<'PY'
import sys, yaml
pk = {p["name"]: p["version"] for p in yaml.safe_load(open(sys.argv[1]))["package"]}
assert pk == {"app": "2.0", "python": "3.12.2", "zlib": "1.3"}, pk
PY
grep -q "GET /t/$TOKEN/mychan/linux-64/repodata.json 200" "$T/requests.log" || fail "mychan not read with the token"
grep -q "GET /t/$TOKEN/main/linux-64/repodata.json 200" "$T/requests.log" || fail "defaults did not expand to default_channels"
! grep -q "$TOKEN" "$T/out" "$T/err" || fail "the token was printed"

# A custom channel named in the environment file.
printf 'channels: [private]\ndependencies: [secret-lib]\n' > "$T/private.yml"
CONDARC="$T/condarc" "$ENVPACK" lock -f "$T/private.yml" -o "$T/p.lock" > "$T/out" 2> "$T/err" \
  || { cat "$T/err" >&2; fail "lock from the custom channel failed"; }
grep -q "GET /t/$TOKEN/private/linux-64/repodata.json 200" "$T/requests.log" || fail "custom channel not used"

# A wrong token: refused (403), exit 1, and neither token printed.
sed "s|/t/$TOKEN|/t/wr0ng-T0KEN-0815|g" "$T/condarc" > "$T/wrong.condarc"
rc=0
CONDARC="$T/wrong.condarc" "$ENVPACK" -v lock -f "$T/env.yml" -o "$T/w.lock" > "$T/out" 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/err" >&2; fail "a wrong token exited $rc, expected 1"; }
grep -q "403" "$T/err" || { cat "$T/err" >&2; fail "the refusal is not reported"; }
! grep -q "wr0ng-T0KEN-0815\|$TOKEN" "$T/out" "$T/err" || { cat "$T/err" >&2; fail "a token was printed"; }

# --solution first: libsolv's first answer (the same here), and a bad value is usage.
CONDARC="$T/condarc" "$ENVPACK" lock -f "$T/env.yml" -o "$T/f.lock" --solution first 2> "$T/err" \
  || { cat "$T/err" >&2; fail "--solution first failed"; }
rc=0
CONDARC="$T/condarc" "$ENVPACK" lock -f "$T/env.yml" --solution fastest 2> "$T/err" || rc=$?
[ "$rc" = 2 ] || fail "--solution fastest exited $rc, expected 2"
# envpack build reads the same .condarc: real packages in a channel reached by name through the
# alias (with its token), locked and installed.
cat > "$T/real.json" <<'JSON'
[{"name": "greet", "version": "1.0", "build": "0", "formats": ["conda"],
  "files": {"share/greet.txt": {"text": "hello through the channel alias\n"}}}]
JSON
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$T/real.json" "$T/www/realchan" > /dev/null
"$ENVPACK" index "$T/www/realchan" > /dev/null
mkdir -p "$T/proj"
printf 'channels: [realchan]\ndependencies: [greet]\n' > "$T/proj/env.yml"
CONDARC="$T/condarc" "$ENVPACK" build -f "$T/proj/env.yml" -t condarc/greet:1 > "$T/out" 2> "$T/err" \
  || { cat "$T/err" >&2; fail "envpack build with the .condarc failed"; }
grep -q "url: '$URL/t/$TOKEN/realchan/linux-64/greet-1.0-0.conda'" "$T/proj/conda-lock.yml" \
  || fail "build did not lock through the alias: $(cat "$T/proj/conda-lock.yml")"
! grep -q "$TOKEN" "$T/out" "$T/err" || fail "build printed the token"
rc=0  # without it, a new lock cannot find realchan (conda.anaconda.org, offline)
"$ENVPACK" build -f "$T/proj/env.yml" --lock "$T/proj/other.lock" -t condarc/greet:2 --offline > "$T/out" 2> "$T/err" || rc=$?
[ "$rc" != 0 ] || fail "without the .condarc, realchan resolved: $(cat "$T/proj/other.lock")"
echo "lock_condarc: ok"
