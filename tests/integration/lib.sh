# Shared helpers for integration tests (sourced, not a test itself).
# Every test gets a scratch directory removed on exit and its own ENVPACK_HOME.
set -euo pipefail
: "${ENVPACK:?ENVPACK must point at the envpack binary}"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/envpack-it.XXXXXX")
export ENVPACK_HOME="$SCRATCH/home"
_cleanups=()
on_exit() { local rc=$?; for c in "${_cleanups[@]}"; do eval "$c" || true; done; rm -rf "$SCRATCH"; exit $rc; }
trap on_exit EXIT
cleanup() { _cleanups+=("$1"); }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
need() { for t in "$@"; do command -v "$t" >/dev/null || skip "$t is not installed"; done; }
free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# expect_exit CODE CMD... : runs CMD, requires exit code CODE, leaves stderr in $SCRATCH/err
expect_exit() {
  local want=$1; shift
  set +e; "$@" >"$SCRATCH/out" 2>"$SCRATCH/err"; local got=$?; set -e
  [ "$got" = "$want" ] || { cat "$SCRATCH/err" >&2; fail "exit $got (wanted $want): $*"; }
}
# A manifest of a tree: path, type, mode, link target or content hash, and hard-link groups.
tree_manifest() {
  /usr/bin/python3 - "$1" <<'PY'
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
