#!/bin/bash
# The pip layers of `envpack build` are written straight from the wheels, their deflate streams
# copied in as gzip members of their own: the blobs must read as ordinary gzip everywhere. For an
# environment whose pip list installs the benchmark's wheels (pip_make_wheels.py bench: native and
# pure, scripts, dependencies):
#   - every layer reads whole with zlib (gzip -t, Python's gzip) and the pip layers are
#     multi-member;
#   - umoci (Go's compress/gzip) and `envpack unpack` give the tree `envpack pip install` gives
#     for the same wheels, file for file, with modes;
#   - the same build with zstd has the same diff_ids (the same tars);
#   - each wheel's RECORD check is remembered, and a rebuild without it is the same image.
source "$(dirname "$0")/lib.sh"
need umoci
HERE=$(cd "$(dirname "$0")" && pwd)
tops=$("$PY" "$HERE/pip_make_wheels.py" bench "$S/env/wheels" 12)
cat > "$S/channel.json" <<'JSON'
[{"name": "python", "version": "3.11.2", "build": "0", "formats": ["conda"],
  "files": {"bin/python3.11": {"mode": 493, "text": "#!/bin/sh\n"}}, "symlinks": {"bin/python": "python3.11"}}]
JSON
"$PY" "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$S/channel.json" "$S/env/channel" > /dev/null
"$ENVPACK" index "$S/env/channel" > /dev/null
{ printf 'name: t\nchannels: [./channel]\ndependencies:\n  - python=3.11\n  - pip:\n'
  printf '      - --no-index\n      - --find-links ./wheels\n'
  for r in $tops; do printf '      - %s\n' "$r"; done; } > "$S/env/env.yml"
"$ENVPACK" lock -f "$S/env/env.yml" > /dev/null
for c in gzip zstd; do
  "$ENVPACK" build -f "$S/env/env.yml" --frozen -t "t/pip:$c" --compression "$c" > /dev/null
done

# The manifest's layers and the config's diff_ids of an image.
layers_of() { "$ENVPACK" inspect "$1" --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
for l in d["layers"]:
    print(l["digest"].split(":")[1], l["size"])'; }
diff_ids_of() { "$ENVPACK" inspect "$1" --json | "$PY" -c '
import json, sys
print(" ".join(l["diff_id"] for l in json.load(sys.stdin)["layers"]))'; }

# 1. zlib reads every gzip layer whole; the big pip layers are made of many members.
blobs="$ENVPACK_HOME/store/blobs/sha256"
most=0
while read -r hex size; do
  gzip -t "$blobs/$hex" || fail "gzip -t refuses layer $hex"
  members=$("$PY" - "$blobs/$hex" <<'PY'
import gzip, sys, zlib
data = open(sys.argv[1], "rb").read()
gzip.decompress(data)  # all members, as one stream
n, pos, view = 0, 0, memoryview(data)
while pos < len(data):
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    while not d.eof:
        chunk = view[pos:pos + 65536]
        if not chunk:
            sys.exit("a truncated gzip member")
        d.decompress(chunk, 1 << 20)
        while d.unconsumed_tail:
            d.decompress(d.unconsumed_tail, 1 << 20)
        pos += len(chunk)
    pos -= len(d.unused_data)
    n += 1
print(n)
PY
)
  [ "$members" -gt "$most" ] && most=$members
done < <(layers_of t/pip:gzip)
[ "$most" -gt 20 ] || fail "no pip layer is made of copied deflate streams (at most $most gzip members)"

# 2. The same tree through umoci (Go), through envpack's own unpack, and from envpack pip install.
"$ENVPACK" pip install --find-links "$S/env/wheels" --prefix "$S/ref" --python 3.11 \
  --interpreter /opt/conda/bin/python $tops > /dev/null
listing() {  # listing DIR: path, type, mode and content hash of every entry, pip's files only
  "$PY" - "$1" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
for d, dirs, files in os.walk(root):
    for name in sorted(dirs + files):
        p = os.path.join(d, name)
        rel = os.path.relpath(p, root)
        if rel == "conda-meta" or rel.startswith("conda-meta/") or rel.startswith("bin/python"):
            continue
        st = os.lstat(p)
        h = hashlib.sha256(open(p, "rb").read()).hexdigest()[:16] if stat.S_ISREG(st.st_mode) else "-"
        print(rel, oct(st.st_mode), h)
PY
}
listing "$S/ref" > "$S/ref.list"
"$ENVPACK" export t/pip:gzip --format oci -o "$S/oci.tar"
mkdir "$S/oci" && tar -xf "$S/oci.tar" -C "$S/oci"
umoci unpack --rootless --image "$S/oci:t/pip:gzip" "$S/umoci" > /dev/null 2>&1 || fail "umoci unpack failed"
listing "$S/umoci/rootfs/opt/conda" > "$S/umoci.list"
diff "$S/ref.list" "$S/umoci.list" > "$S/diff" || { head -20 "$S/diff"; fail "umoci's tree differs from envpack pip install's"; }
[ "$(wc -l < "$S/ref.list")" -gt 100 ] || fail "too few files: $(wc -l < "$S/ref.list")"
for c in gzip zstd; do
  "$ENVPACK" unpack "t/pip:$c" -o "$S/unpack-$c" > /dev/null
  listing "$S/unpack-$c/opt/conda" > "$S/unpack.list"
  diff "$S/ref.list" "$S/unpack.list" > "$S/diff" || { head -20 "$S/diff"; fail "envpack unpack ($c) differs from envpack pip install"; }
done

# 3. One tar, two compressions.
gz=$(diff_ids_of t/pip:gzip)
[ "$gz" = "$(diff_ids_of t/pip:zstd)" ] || fail "gzip and zstd images have different diff_ids"
# 4. Every wheel passed its RECORD check and is remembered by its sha256; a rebuild without the
#    layer cache (no RECORD hashing then) gives the same image, byte for byte.
pips=$(grep -c '^  manager: pip' "$S/env/conda-lock.yml")
[ "$(ls "$ENVPACK_HOME/pip/record-checked" | wc -l)" = "$pips" ] || fail "not every wheel is remembered as checked: $(ls "$ENVPACK_HOME/pip/record-checked")"
first=$("$ENVPACK" inspect t/pip:gzip --json | jget "['digest']")
rm -rf "$ENVPACK_HOME/layers" "$ENVPACK_HOME/builds"
"$ENVPACK" build -f "$S/env/env.yml" --frozen -t t/pip:again > /dev/null
[ "$("$ENVPACK" inspect t/pip:again --json | jget "['digest']")" = "$first" ] || fail "the rebuild is not the same image"
echo "pip_build_interop: ok ($most gzip members in the largest layer)"
