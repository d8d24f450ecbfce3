# The one scaffold for integration tests and the shell benchmarks (sourced, not a test itself).
#
# Every script that sources it gets: a scratch directory $SCRATCH (also $S) under
# ${SCRATCH_PARENT:-${TMPDIR:-/tmp}}, removed on exit; its own ENVPACK_HOME=$SCRATCH/home;
# `cleanup CMD` to run CMD on exit (in order, even on failure); fail / skip (exit 77, the CTest
# skip code) / skip_part (the rest runs, then exit 77) / need TOOL...; expect_exit; jget; and servers that bind port 0 themselves and
# report the port they got (no free-port race under ctest -j), each stopped on exit:
#   start_registry NAME [EXTRA_YAML]     docker-registry        -> REG_<NAME>, REG_PORT_<NAME>
#   start_fault_proxy NAME UPSTREAM RULES tests/fixtures/fault_proxy.py -> PROXY_<NAME>, PROXY_LOG_<NAME>
#   start_static_server NAME DIR         a file server for DIR  -> STATIC_PORT_<NAME>
#   start_token_server DIR USERS         token_server.py        -> TOKEN_PORT, TOKEN_CERT, TOKEN_LOG
# A script that starts a server of its own runs it on port 0 and reads the port back with
# wait_port_file; `track_pid PID` stops it on exit.
set -euo pipefail
: "${ENVPACK:?ENVPACK must point at the envpack binary}"
PY=/usr/bin/python3
FIXTURES="$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)"
: "${ENVPACK_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SCRATCH=$(mktemp -d "${SCRATCH_PARENT:-${TMPDIR:-/tmp}}/envpack-it.XXXXXX")
S=$SCRATCH
export ENVPACK_HOME="$SCRATCH/home"
mkdir -p "$ENVPACK_HOME"
_cleanups=()
_skipped_parts=()
on_exit() {
  local rc=$? c
  for c in "${_cleanups[@]}"; do eval "$c" || true; done
  rm -rf "$SCRATCH"
  if [ "$rc" = 0 ] && [ "${#_skipped_parts[@]}" -gt 0 ]; then
    # Everything that ran passed, but not everything ran: report a skip, not a pass.
    for c in "${_skipped_parts[@]}"; do echo "SKIP (part): $c"; done
    rc=77
  fi
  exit $rc
}
trap on_exit EXIT
cleanup() { _cleanups+=("$1"); }
# stop_pid PID: stops (TERM) and reaps PID now, if it still runs; track_pid PID: on exit.
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
track_pid() { cleanup "stop_pid $1"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
# skip_part WHY: this part cannot run here; the others go on, and the script then exits 77
# (skipped) instead of 0, naming every part it left out.
skip_part() { echo "SKIP (part): $*"; _skipped_parts+=("$*"); }
need() { for t in "$@"; do command -v "$t" >/dev/null || skip "$t is not installed (make deps installs it)"; done; }
# A port nobody listens on, for tests of refused connections only: never start a server on it.
unused_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
free_port() { unused_port; }  # old name, same caveat
# expect_exit CODE CMD... : runs CMD, requires exit code CODE, leaves stdout in $SCRATCH/out and
# stderr in $SCRATCH/err
expect_exit() {
  local want=$1; shift
  set +e; "$@" >"$SCRATCH/out" 2>"$SCRATCH/err"; local got=$?; set -e
  [ "$got" = "$want" ] || { cat "$SCRATCH/err" >&2; fail "exit $got (wanted $want): $*"; }
}
# jget EXPR: prints json.load(stdin)EXPR, e.g. `jget '["digest"]'`.
jget() { "$PY" -c "import json,sys;print(json.load(sys.stdin)$1)"; }

# nobody_setup: prepares running envpack as the unprivileged user nobody (uid/gid 65534), for
# checks that root would pass by reading everything. Returns 1 (NOBODY_WHY says why) when not root
# or without setpriv. Makes NOBODY_DIR, a world-readable directory under /tmp (the checkout and
# TMPDIR may sit under 0700 directories nobody cannot enter) holding a copy of the binary,
# NOBODY_ENVPACK, and an ENVPACK_HOME for nobody; `as_nobody CMD...` runs CMD as nobody there.
nobody_setup() {
  if [ "$(id -u)" != 0 ]; then NOBODY_WHY="not root (setpriv cannot switch users)"; return 1; fi
  if ! command -v setpriv >/dev/null; then NOBODY_WHY="setpriv is not installed"; return 1; fi
  NOBODY_DIR=$(mktemp -d /tmp/envpack-nobody.XXXXXX)
  cleanup "chmod -R u+rwx '$NOBODY_DIR' 2>/dev/null; rm -rf '$NOBODY_DIR'"
  chmod 755 "$NOBODY_DIR"
  cp "$ENVPACK" "$NOBODY_DIR/envpack"
  chmod 755 "$NOBODY_DIR/envpack"
  NOBODY_ENVPACK="$NOBODY_DIR/envpack"
  mkdir -m 777 "$NOBODY_DIR/home"
}
as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups env ENVPACK_HOME="$NOBODY_DIR/home" "$@"; }

# wait_port_file FILE PID: waits (10 s at most) until the server PID wrote its port to FILE and
# prints it; fails when PID dies first.
wait_port_file() {
  local file=$1 pid=$2 i
  for i in $(seq 1 200); do
    if [ -s "$file" ]; then cat "$file"; return 0; fi
    kill -0 "$pid" 2>/dev/null || fail "server (pid $pid) exited before it reported its port"
    sleep 0.05
  done
  fail "server (pid $pid) reported no port in 10 s"
}

# wait_for_url URL [EXPECTED_CODES_REGEX]: polls until the URL answers (any HTTP code by default).
wait_for_url() {
  local url=$1 codes=${2:-'^[1-5][0-9][0-9]$'} i code
  for i in $(seq 1 100); do
    code=$(curl -s -k -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)
    if [[ "$code" =~ $codes ]]; then
      return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for $url (last code $code)" >&2
  return 1
}

# start_registry NAME [EXTRA_YAML]: docker-registry on 127.0.0.1:0, storage under the scratch
# dir; the port is read back from its "listening on" log line. Sets REG_PORT_<NAME> and
# REG_<NAME> (host:port). EXTRA_YAML may add keys under `http:` (tls) and top-level sections.
start_registry() {
  local name=$1 extra=${2:-} port="" dir pid i
  dir="$SCRATCH/registry-$name"
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:0
$extra
YAML
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  pid=$!
  track_pid "$pid"
  for i in $(seq 1 200); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$dir/log" | head -n1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; fail "docker-registry $name exited"; }
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$dir/log" >&2; fail "docker-registry $name reported no port"; }
  printf -v "REG_PORT_$name" '%s' "$port"
  printf -v "REG_$name" '%s' "127.0.0.1:$port"
}

# start_fault_proxy NAME UPSTREAM_HOSTPORT RULES_JSON: sets PROXY_<NAME> (host:port) and
# PROXY_LOG_<NAME> (one JSON line per request).
start_fault_proxy() {
  local name=$1 upstream=$2 rules=$3 port log pid
  log="$SCRATCH/proxy-$name.log"
  "$PY" "$FIXTURES/fault_proxy.py" --port 0 --port-file "$SCRATCH/proxy-$name.port" \
    --upstream "$upstream" --rules "$rules" --log "$log" >"$SCRATCH/proxy-$name.out" 2>&1 &
  pid=$!
  track_pid "$pid"
  port=$(wait_port_file "$SCRATCH/proxy-$name.port" "$pid")
  printf -v "PROXY_$name" '%s' "127.0.0.1:$port"
  printf -v "PROXY_LOG_$name" '%s' "$log"
}

# start_static_server NAME DIR: a plain HTTP file server for DIR. Sets STATIC_PORT_<NAME>.
start_static_server() {
  local name=$1 dir=$2 port pid
  "$PY" "$FIXTURES/serve_dir.py" --dir "$dir" --port-file "$SCRATCH/static-$name.port" \
    >/dev/null 2>&1 &
  pid=$!
  track_pid "$pid"
  port=$(wait_port_file "$SCRATCH/static-$name.port" "$pid")
  printf -v "STATIC_PORT_$name" '%s' "$port"
}

# start_token_server DIR USERS: RSA key + self-signed cert in DIR, token server on port 0.
# USERS is "user:pass[,user:pass]". Sets TOKEN_PORT, TOKEN_CERT, TOKEN_LOG.
start_token_server() {
  local dir=$1 users=$2 pid
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
    -days 2 -subj "/CN=envpack-test-token-issuer" >/dev/null 2>&1
  TOKEN_CERT="$dir/cert.pem"
  TOKEN_LOG="$dir/token.log"
  "$PY" "$FIXTURES/token_server.py" --port 0 --port-file "$dir/token.port" --key "$dir/key.pem" \
    --cert "$dir/cert.pem" --users "$users" --issuer envpack-test-issuer --service envpack-test \
    --log "$TOKEN_LOG" >"$dir/token.out" 2>&1 &
  pid=$!
  track_pid "$pid"
  TOKEN_PORT=$(wait_port_file "$dir/token.port" "$pid")
}

# skopeo_digest HOSTPORT/REPO:REF: the digest skopeo sees for a manifest.
skopeo_digest() {
  skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$1"
}

# make_test_layout LAYOUT TAG LAYERS BYTES_PER_LAYER: a multi-layer OCI layout (through Python;
# one `envpack import` per layer would give one-layer images).
make_test_layout() {
  "$PY" "$FIXTURES/make_layout.py" --layout "$1" --tag "$2" --layers "$3" --bytes "$4"
}

# A manifest of a tree: path, type, mode, link target or content hash, and hard-link groups.
tree_manifest() {
  "$PY" - "$1" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
inodes = {}
out = []
for d, dirs, files in os.walk(root):
    dirs.sort()
    for n in sorted(dirs + files):
        p = os.path.join(d, n)
        rel = os.path.relpath(p, root)
        st = os.lstat(p)
        m = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            out.append(f"L {rel!r} -> {os.readlink(p)!r}")
        elif stat.S_ISDIR(st.st_mode):
            out.append(f"D {rel!r} {m:o}")
        elif stat.S_ISREG(st.st_mode):
            h = hashlib.sha256(open(p, 'rb').read()).hexdigest()
            inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            out.append(f"F {rel!r} {m:o} {h}")
for group in inodes.values():
    if len(group) > 1:
        out.append("H " + " = ".join(repr(g) for g in sorted(group)))
print("\n".join(sorted(out)))
PY
}
# Builds (once per build tree) the OCI schema validator from shared/tools/oci-validate.
oci_validator() {
  local bin="${ENVPACK_BUILD_DIR:-$SCRATCH}/oci-validate"
  if [ ! -x "$bin" ]; then
    sh "$ENVPACK_SHARED_DIR/tools/oci-validate/build.sh" "$bin.tmp.$$" >&2 && mv "$bin.tmp.$$" "$bin"
  fi
  echo "$bin"
}

# The small base image of the base_image fixture (tests/CMakeLists.txt: a script that names
# base-image.env requires the fixture), put into this test's own ENVPACK_HOME without copying:
# the store's blobs and the base build caches are hard links (blobs are immutable, and every file
# envpack rewrites is replaced by rename, so the fixture's copies never change). Sets BASE_IMAGE_*.
use_base_image() {
  local env_file="${ENVPACK_BUILD_DIR:?}/base-image.env"
  [ -f "$env_file" ] || skip "the base_image fixture did not build (see integration: base_fixture)"
  source "$env_file"
  mkdir -p "$ENVPACK_HOME"
  cp -al "$BASE_IMAGE_HOME/store" "$ENVPACK_HOME/store" || fail "cannot link the fixture's store"
  if [ -d "$BASE_IMAGE_HOME/base" ]; then cp -al "$BASE_IMAGE_HOME/base" "$ENVPACK_HOME/base" || fail "cannot link the fixture's base caches"; fi
}
