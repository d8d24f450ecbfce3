#!/bin/bash
# envpack pip install from a simple index over HTTP (pip_index_server.py on 127.0.0.1, port 0):
# PEP 691 JSON and PEP 503 HTML pages; metadata from PEP 658 files when offered, else by range
# requests (the server honours Range), else by downloading the wheel; index hashes checked
# (a corrupted file is refused and nothing is installed); a 404 for every project and an index
# that serves HTML garbage give a clear "not found" (exit 3); the install matches the one from a
# --find-links directory file for file.
source "$(dirname "$0")/lib.sh"
need curl
HERE=$(cd "$(dirname "$0")" && pwd)
"$PY" "$HERE/pip_make_wheels.py" good "$S/wheels"

# start_index NAME ARGS...: serves $S/wheels; sets INDEX_<NAME> (the /simple/ URL), LOG_<NAME>.
start_index() {
  local name=$1 pid port; shift
  "$PY" "$HERE/pip_index_server.py" --dir "$S/wheels" --log "$S/$name.log" \
    --port-file "$S/$name.port" "$@" >"$S/$name.server.log" 2>&1 &
  pid=$!
  track_pid "$pid"
  port=$(wait_port_file "$S/$name.port" "$pid")
  printf -v "INDEX_$name" '%s' "http://127.0.0.1:$port/simple/"
  printf -v "LOG_$name" '%s' "$S/$name.log"
}
start_index meta --metadata --format json
start_index range --format html
start_index norange --format html --no-range
start_index garbage --garbage
start_index corrupt --corrupt beta-1.0-py3-none-any.whl

REQS=(alpha delta 'epsilon[fast]')
"$ENVPACK" pip install --find-links "$S/wheels" --prefix "$S/local" --python 3.11 --interpreter /usr/bin/python3 "${REQS[@]}" >/dev/null \
  || fail "install from find-links failed"
manifest() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2); }

check_source() {  # NAME COUNTER: installs from INDEX_NAME, checks the counter moved and the tree
  local name=$1 counter=$2 url_var="INDEX_$1"
  ENVPACK_HOME="$S/home-$name" "$ENVPACK" pip install --index-url "${!url_var}" --prefix "$S/p-$name" --python 3.11 --interpreter /usr/bin/python3 --json \
    "${REQS[@]}" >"$S/$name.json" || fail "install from the $name index failed"
  local n
  n=$(jget "[\"metadata\"][\"$counter\"]" <"$S/$name.json")
  [ "$n" -gt 0 ] || { cat "$S/$name.json"; fail "$name: metadata counter $counter is $n"; }
  diff <(manifest "$S/local") <(manifest "$S/p-$name") >/dev/null \
    || fail "$name: the tree differs from the find-links install"
  echo "$name: $(jget '["metadata"]' <"$S/$name.json")"
}
check_source meta pep658
grep -q "\.metadata " "$LOG_meta" || fail "no .metadata file was fetched"
check_source range range
grep -q "GET /files/.* bytes=" "$LOG_range" || fail "no range request reached the server"
check_source norange downloads
# The range server: metadata came by ranges (each ENVPACK_HOME its own download cache), and each
# installed wheel was then downloaded once in full.
full=$(grep -c "^GET /files/[^ ]*\.whl -$" "$LOG_range" || true)
[ "$full" = 5 ] || fail "range index: $full full downloads (wanted 5: alpha beta delta epsilon eta)"

# The download cache: a second install from the range index downloads nothing.
ENVPACK_HOME="$S/home-range" "$ENVPACK" pip install --index-url "$INDEX_range" --prefix "$S/p-again" --python 3.11 --json \
  "${REQS[@]}" >"$S/again.json" || fail "second install failed"
[ "$(jget '["metadata"]["downloads"]' <"$S/again.json")" = 0 ] || fail "the cache was not used"

# A corrupted file: its sha256 differs from the page's, refused, nothing of it installed.
expect_exit 1 "$ENVPACK" pip install --index-url "$INDEX_corrupt" --prefix "$S/p-corrupt" --python 3.11 beta==1.0
grep -q "sha256" "$S/err" || { cat "$S/err"; fail "the hash mismatch is not reported"; }
[ ! -e "$S/p-corrupt/lib/python3.11/site-packages/beta" ] || fail "a corrupted wheel was installed"
[ -z "$(find "$ENVPACK_HOME/pip" -name 'beta-1.0-*.whl' 2>/dev/null | xargs -r sha256sum | grep -v "$(sha256sum "$S/wheels/beta-1.0-py3-none-any.whl" | cut -c1-64)")" ] \
  || fail "a corrupted wheel was kept in the cache"

# HTML garbage and 404s: no files, so nothing provides the project.
expect_exit 3 "$ENVPACK" pip install --index-url "$INDEX_garbage" --prefix "$S/p-g" --python 3.11 alpha
grep -q "alpha" "$S/err" || { cat "$S/err"; fail "garbage index: alpha not named"; }
expect_exit 3 "$ENVPACK" pip install --index-url "$INDEX_meta" --prefix "$S/p-404" --python 3.11 not-there
grep -q "not-there" "$S/err" || { cat "$S/err"; fail "404 index: project not named"; }
# An index URL where nothing listens: a network error naming the URL (exit 1).
dead=$(unused_port)
ENVPACK_HTTP_RETRIES=0 expect_exit 1 "$ENVPACK" pip install --index-url "http://127.0.0.1:$dead/simple/" \
  --prefix "$S/p-dead" --python 3.11 alpha
grep -q "127.0.0.1:$dead" "$S/err" || { cat "$S/err"; fail "the dead index is not named"; }
echo "ok"
