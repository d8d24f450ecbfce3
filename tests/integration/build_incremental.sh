#!/usr/bin/env bash
# Incremental builds: after one package changes, only that package's layer (and the small
# conda-meta layer) is written, the other layers keep their digests, and --explain says so;
# identical packages give identical layers across images; --max-layers groups small packages;
# zstd layers; an installation from .conda and from .tar.bz2 of the same package is the same layer.
source "$(dirname "$0")/lib.sh"
need zstd /usr/bin/python3
S=$SCRATCH
spec() {  # spec VERSION_OF_B
  cat <<JSON
[{"name": "a", "version": "1.0", "build": "0", "files": {"share/a.txt": {"text": "a"}}},
 {"name": "b", "version": "$1", "build": "0", "formats": ["conda"], "files": {"share/b.txt": {"text": "b $1"}}},
 {"name": "c", "version": "1.0", "build": "0", "files": {"share/c.txt": {"text": "cccccccccccccccccc"}}},
 {"name": "d", "version": "1.0", "build": "0", "files": {"bin/d": {"text": "#!/bin/sh\n", "mode": 493}},
  "symlinks": {"bin/dd": "d"}}]
JSON
}
spec 1.0 >"$S/spec.json"
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$S/spec.json" "$S/channel" >/dev/null
"$ENVPACK" index "$S/channel" >/dev/null
printf 'name: inc\nchannels: [./channel]\ndependencies: [a, b, c, d]\n' >"$S/env.yml"
"$ENVPACK" lock -f "$S/env.yml" >/dev/null
mkdir -p "$S/rootfs/etc" && echo base >"$S/rootfs/etc/base.txt"
"$ENVPACK" import "$S/rootfs" -t test/base:1 >/dev/null
layers() { "$ENVPACK" inspect "$1" --json | /usr/bin/python3 -c 'import json,sys; print("\n".join(l["digest"] for l in json.load(sys.stdin)["layers"]))'; }

"$ENVPACK" build -f "$S/env.yml" --base test/base:1 -t test/inc:1 --json >"$S/b1.json"
layers test/inc:1 >"$S/l1"
[ "$(wc -l <"$S/l1")" = 6 ] || fail "base + 4 packages + conda-meta = 6 layers, got $(wc -l <"$S/l1")"

# b changes: 1.0 -> 2.0.
rm "$S/channel/linux-64/b-1.0-0.conda"
spec 2.0 >"$S/spec.json"
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$S/spec.json" "$S/channel" >/dev/null
"$ENVPACK" index "$S/channel" >/dev/null
"$ENVPACK" lock -f "$S/env.yml" >/dev/null
"$ENVPACK" build -f "$S/env.yml" --base test/base:1 -t test/inc:2 --explain --json >"$S/b2.json" 2>"$S/explain"
layers test/inc:2 >"$S/l2"
/usr/bin/python3 - "$S/b2.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert not d["cached"], d
assert d["layers_written"] == 1 and d["layers_reused"] == 3, d
PY
changed=$(diff "$S/l1" "$S/l2" | grep -c '^>' || true)
[ "$changed" = 2 ] || { diff "$S/l1" "$S/l2"; fail "expected 2 changed layers (b and conda-meta), got $changed"; }
grep -q 'explain: layer .*: wrote .*(b-2.0-0)' "$S/explain" || { cat "$S/explain"; fail "explain: written"; }
grep -q 'explain: layer .*: reused .*(a-1.0-0)' "$S/explain" || { cat "$S/explain"; fail "explain: reused"; }

# Identical packages give identical layers in another image (another tag, another variables set).
printf 'name: inc\nchannels: [./channel]\ndependencies: [a, b, c, d]\nvariables: {X: "1"}\n' >"$S/env3.yml"
cp "$S/conda-lock.yml" "$S/lock3.yml"
"$ENVPACK" build -f "$S/env3.yml" --lock "$S/lock3.yml" --base test/base:1 -t test/inc:3 --json >"$S/b3.json"
layers test/inc:3 >"$S/l3"
diff <(head -5 "$S/l3") <(head -5 "$S/l2") || fail "package layers differ across images"

# --max-layers 3: two package layers (the largest package alone, the rest shared) + conda-meta.
"$ENVPACK" build -f "$S/env.yml" --base test/base:1 -t test/inc:small --max-layers 3 >/dev/null
layers test/inc:small >"$S/lsmall"
[ "$(wc -l <"$S/lsmall")" = 4 ] || fail "--max-layers 3: $(wc -l <"$S/lsmall") layers"

# zstd layers, read back by umoci when present.
"$ENVPACK" build -f "$S/env.yml" --base test/base:1 -t test/inc:zstd --compression zstd >/dev/null
out=$("$ENVPACK" inspect test/inc:zstd --json)
grep -q 'tar+zstd' <<<"$out" || fail "zstd media type"

# Same package from .conda and .tar.bz2: the same layer.
spec 2.0 | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); s[1]["formats"]=["tar.bz2"]; print(json.dumps(s))' >"$S/spec2.json"
/usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$S/spec2.json" "$S/channel2" >/dev/null
"$ENVPACK" index "$S/channel2" >/dev/null
printf 'name: inc\nchannels: [./channel2]\ndependencies: [a, b, c, d]\n' >"$S/env4.yml"
"$ENVPACK" lock -f "$S/env4.yml" -o "$S/lock4.yml" >/dev/null
"$ENVPACK" build -f "$S/env4.yml" --lock "$S/lock4.yml" --base test/base:1 -t test/inc:4 --prefix /opt/conda >/dev/null
"$ENVPACK" build -f "$S/env.yml" --base test/base:1 -t test/inc:5 --prefix /opt/conda >/dev/null
# diff_ids (uncompressed content) of the package layers are equal; b's layer too.
diffids() { "$ENVPACK" inspect "$1" --json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print("\n".join(l["diff_id"] for l in d["layers"][1:5]))'; }
diffids test/inc:4 >"$S/d4"
diffids test/inc:5 >"$S/d5"
[ "$(wc -l <"$S/d4")" = 4 ] || fail "diff_ids of test/inc:4"
diff "$S/d4" "$S/d5" || fail ".conda and .tar.bz2 gave different layers"
echo ok
