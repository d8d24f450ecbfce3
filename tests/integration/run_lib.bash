# Shared by the run_*.sh tests (sourced after lib.sh): root, runc, a busybox image in the store,
# and helpers that look for what a run may leave behind.
[ "$(id -u)" = 0 ] || skip "envpack run needs root (containers, overlayfs)"
need runc busybox
file -L "$(command -v busybox)" 2>/dev/null | grep -q 'statically linked' || skip "busybox is not static"

# it/bb:1 - a busybox root filesystem (every applet a symlink to /bin/busybox).
make_busybox_image() {
  local root="$SCRATCH/bbroot"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/workspace"
  cp "$(command -v busybox)" "$root/bin/busybox"
  for a in $(busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
  "$ENVPACK" import "$root" -t it/bb:1 > /dev/null
}

# The ID of the newest run in ENVPACK_HOME.
last_run() { ls "$ENVPACK_HOME/runs" | sort | tail -n 1; }
# Waits (up to $2 s) for a run newer than run $1 ("" for none) and prints its ID: a run started in
# the background is not the last one until its record exists.
new_run_after() {
  local before=$1 secs=$2 i id
  for i in $(seq $((secs * 20))); do
    id=$(ls "$ENVPACK_HOME/runs" 2>/dev/null | sort | tail -n 1)
    if [ -n "$id" ] && [ "$id" != "$before" ]; then echo "$id"; return 0; fi
    sleep 0.05
  done
  fail "no new run after ${before:-none} in $secs s"
}
status_of() { cat "$ENVPACK_HOME/runs/$1/status.json"; }
jfield() { /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin); [v:=v[k] for k in sys.argv[1:]]; print(v)' "$@"; }

# The containers both runtimes know (envpack's auto choice is crun where installed, else runc).
runtime_list() { runc list 2>/dev/null; crun list 2>/dev/null; true; }

# Nothing of run $1 may be left: no container the runtime knows, no mount under its record, no
# writable root filesystem, no process whose command line carries marker $2 (and, where the
# sourcing script defines `assert_network_gone`, no namespace or bridge).
assert_nothing_left() {
  local id=$1 marker=${2:-}
  if runtime_list | grep -q "envpack-$id"; then runtime_list; fail "containers of $id left"; fi
  if grep -q "$ENVPACK_HOME/runs/$id" /proc/mounts; then grep "$id" /proc/mounts; fail "mounts of $id left"; fi
  if compgen -G "$ENVPACK_HOME/runs/$id/nodes/*/rootfs" > /dev/null; then fail "a rootfs of $id left"; fi
  if [ -n "$marker" ] && pgrep -f "$marker" > /dev/null; then ps -ef | grep "$marker"; fail "processes of $id left"; fi
  if declare -F assert_network_gone > /dev/null; then assert_network_gone "$id"; fi
}

# Starts `envpack run $1` in the background with its output in $2, stops it on exit if it still
# runs (TERM, so it tears its containers down, then KILL), and waits until its run is running:
# sets pid and id.
start_run_bg() {
  local before; before=$(last_run)
  "$ENVPACK" run "$1" > "$2" 2>&1 & pid=$!
  cleanup "kill -TERM $pid 2>/dev/null && { sleep 2; kill -9 $pid 2>/dev/null; }"
  id=$(new_run_after "$before" 60)
  wait_phase "$id" 60 running
}

# Waits (up to 30 s) until the 4 ranks of the 2x2 allreduce jobs have written `allreduce 10 ok`
# to file $1.
wait_ranks_started() {
  local i
  for i in $(seq 600); do [ "$(grep -c 'allreduce 10 ok' "$1")" = 4 ] && return 0; sleep 0.05; done
  cat "$1"; fail "the ranks did not start"
}

# Waits (up to $2 s) until run $1's status says phase $3.
wait_phase() {
  local id=$1 secs=$2 phase=$3 i
  for i in $(seq $((secs * 20))); do
    [ -f "$ENVPACK_HOME/runs/$id/status.json" ] &&
      [ "$(status_of "$id" | jfield phase)" = "$phase" ] && return 0
    sleep 0.05
  done
  fail "run $id did not reach phase $phase in $secs s"
}
