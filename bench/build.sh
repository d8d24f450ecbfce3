#!/usr/bin/env bash
# envpack build, side by side with the plain way of making one layer from the same packages:
#   1. cold build of a ~200 MB (installed) environment  vs  extract the packages + `tar | gzip`
#   2. rebuild with nothing changed (target < 0.2 s; the package cache and channel are moved
#      away first, so a rebuild that read any package would fail)
#   3. rebuild after one package changed (only that package's layer is written)
# Packages: 20 generated .conda files of 10 MB each (half incompressible, half text).
set -euo pipefail
ENVPACK=${ENVPACK:-build/cli/envpack}
ENVPACK=$(realpath "$ENVPACK")
SRC=$(cd "$(dirname "$0")/.." && pwd)
S=$(mktemp -d "${TMPDIR:-/tmp}/envpack-bench.XXXXXX")
trap 'rm -rf "$S"' EXIT
export ENVPACK_HOME=$S/home
now() { date +%s.%N; }
secs() { /usr/bin/python3 -c "print(f'{$2 - $1:.3f}')"; }

/usr/bin/python3 - "$S/spec.json" <<'PY'
import json, sys
specs = [{"name": f"pkg{i:02d}", "version": "1.0", "build": "0", "formats": ["conda"],
          "random_bytes": {f"lib/pkg{i:02d}/data.bin": 5 << 20},
          "text_bytes": {f"share/pkg{i:02d}/doc.txt": 5 << 20}} for i in range(20)]
json.dump(specs, open(sys.argv[1], "w"))
PY
/usr/bin/python3 "$SRC/tests/fixtures/make_conda_pkg.py" "$S/spec.json" "$S/channel" >/dev/null
"$ENVPACK" index "$S/channel" >/dev/null
{ echo "name: bench"; echo "channels: [./channel]"; echo "dependencies:";
  for i in $(seq -f %02g 0 19); do echo "  - pkg$i"; done; } >"$S/env.yml"
"$ENVPACK" lock -f "$S/env.yml" >/dev/null
mkdir -p "$S/rootfs/etc" && echo base >"$S/rootfs/etc/os-release"
"$ENVPACK" import "$S/rootfs" -t bench/base:1 >/dev/null

# 1. cold build vs extract + tar | gzip
t0=$(now)
"$ENVPACK" build -f "$S/env.yml" --base bench/base:1 -t bench/env:1 >/dev/null
t1=$(now)
cold=$(secs "$t0" "$t1")
mkdir -p "$S/plain/opt/conda"
t0=$(now)
for f in "$S"/channel/linux-64/*.conda; do
  d=$S/plain/x/$(basename "$f" .conda); mkdir -p "$d"
  (cd "$d" && /usr/bin/python3 -c 'import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall()' "$f" \
     && for z in *.tar.zst; do zstd -q -d -c "$z" | tar -x -C "$S/plain/opt/conda"; done)
done
tar -C "$S/plain" -c opt | gzip -6 >"$S/plain.tar.gz"
t1=$(now)
plain=$(secs "$t0" "$t1")
installed=$(du -sm "$S/plain/opt/conda" | cut -f1)
echo "cold build of ${installed} MB installed (20 packages): envpack build ${cold} s   vs   extract + tar | gzip -6 (one layer) ${plain} s   (ratio $(/usr/bin/python3 -c "print(f'{$cold/$plain:.2f}')"))"

# 2. nothing changed: no package may be read (cache and channel moved away).
mv "$ENVPACK_HOME/pkgs" "$S/pkgs.away"; mv "$S/channel" "$S/channel.away"
best=99
for i in 1 2 3 4 5; do
  t0=$(now); "$ENVPACK" build -f "$S/env.yml" --base bench/base:1 -t bench/env:1 >/dev/null; t1=$(now)
  best=$(/usr/bin/python3 -c "print(min($best, $t1 - $t0))")
done
echo "rebuild, nothing changed: best of 5 $(/usr/bin/python3 -c "print(f'{$best:.3f}')") s (target < 0.2 s), with no package cache and no channel present"
mv "$S/pkgs.away" "$ENVPACK_HOME/pkgs"; mv "$S/channel.away" "$S/channel"

# 3. one package changed: pkg07 1.0 -> 1.1
/usr/bin/python3 - "$S/spec.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
p = dict(s[7]); p["version"] = "1.1"
json.dump([p], open(sys.argv[1] + ".one", "w"))
PY
/usr/bin/python3 "$SRC/tests/fixtures/make_conda_pkg.py" "$S/spec.json.one" "$S/channel" >/dev/null
rm "$S/channel/linux-64/pkg07-1.0-0.conda"
"$ENVPACK" index "$S/channel" >/dev/null
"$ENVPACK" lock -f "$S/env.yml" >/dev/null
t0=$(now)
"$ENVPACK" build -f "$S/env.yml" --base bench/base:1 -t bench/env:2 --json >"$S/one.json"
t1=$(now)
one=$(secs "$t0" "$t1")
written=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["layers_written"], d["layers_reused"])' "$S/one.json")
echo "rebuild after one package changed: ${one} s (package layers written, reused: ${written})   vs   cold ${cold} s"
