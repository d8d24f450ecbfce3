#!/usr/bin/env bash
# One-command builds: `envpack build -f ENV.yml` with no lock locks first and writes the lock
# beside the file; a second run is a build-cache hit in under 0.2 s; editing the file re-locks
# (keeping the old lock's versions where allowed) and rebuilds only the changed layers;
# `--virtual __cuda=...` and a base whose label declares `__cuda` make the lock stale; `--locked`
# refuses a stale lock (exit 2 naming the file) and `--frozen` builds from it unchanged.
source "$(dirname "$0")/lib.sh"
need /usr/bin/python3
S=$SCRATCH
P=$S/project
mkpkgs() {  # mkpkgs SPEC_JSON: packages into $P/channel, then index
  printf '%s' "$1" >"$S/spec.json"
  /usr/bin/python3 "$ENVPACK_SOURCE_DIR/tests/fixtures/make_conda_pkg.py" "$S/spec.json" "$P/channel" >/dev/null
  "$ENVPACK" index "$P/channel" >/dev/null
}
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$@"; }
layers() { "$ENVPACK" inspect "$1" --json | /usr/bin/python3 -c 'import json,sys; print("\n".join(l["digest"] for l in json.load(sys.stdin)["layers"]))'; }
mkdir -p "$P"
mkpkgs '[{"name": "tool", "version": "1.0", "build": "0", "depends": ["lib"], "files": {"bin/tool": {"text": "#!/bin/sh\necho tool\n", "mode": 493}}},
 {"name": "lib", "version": "1.0", "build": "0", "files": {"lib/lib.txt": {"text": "lib 1.0"}}},
 {"name": "extra", "version": "1.0", "build": "0", "files": {"share/extra.txt": {"text": "extra"}}},
 {"name": "gpu", "version": "1.0", "build": "0", "depends": ["__cuda >=12"], "files": {"share/gpu.txt": {"text": "gpu"}}}]'
printf 'name: one\nchannels: [./channel]\ndependencies: [tool]\n' >"$P/env.yml"
mkdir -p "$S/rootfs/etc" && echo base >"$S/rootfs/etc/base.txt"
"$ENVPACK" import "$S/rootfs" -t test/base:1 >/dev/null
build() { "$ENVPACK" build -f "$P/env.yml" --base test/base:1 -t test/one:1 --json "$@" >"$S/b.json" 2>"$S/b.err"; }

# 1. No lock: locked first, the lock written beside the file, and said on stderr.
[ ! -e "$P/conda-lock.yml" ] || fail "a lock before the test"
build --explain || { cat "$S/b.err"; fail "first build"; }
[ -f "$P/conda-lock.yml" ] || fail "no lock written beside env.yml"
grep -q "wrote the lock \`$P/conda-lock.yml\`" "$S/b.err" || { cat "$S/b.err"; fail "the first build does not say it wrote the lock"; }
[ "$(jget "$S/b.json" 'd["lock"]["action"]')" = created ] || fail "lock action: $(cat "$S/b.json")"
[ "$(jget "$S/b.json" 'd["cached"]')" = False ] || fail "first build was a cache hit"
digest1=$(jget "$S/b.json" 'd["digest"]')
grep -q 'envpack.virtual-packages.linux-64' "$P/conda-lock.yml" || fail "the lock does not record its virtual packages"
layers test/one:1 >"$S/l1"
[ "$(wc -l <"$S/l1")" = 4 ] || fail "base + tool + lib + conda-meta = 4 layers, got $(wc -l <"$S/l1")"
lock_sum=$(sha256sum <"$P/conda-lock.yml")

# 2. Again: the lock is used as is and the build cache answers (best of 3 timed).
best=9
for i in 1 2 3; do
  t0=$(date +%s.%N); build; t1=$(date +%s.%N)
  best=$(/usr/bin/python3 -c "import sys; print(min(float(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2])))" "$best" "$t0" "$t1")
  [ "$(jget "$S/b.json" 'd["cached"]')" = True ] || fail "second build was not a cache hit"
  [ "$(jget "$S/b.json" 'd["lock"]["action"]')" = used ] || fail "second build re-locked: $(cat "$S/b.err")"
done
echo "cache hit: best of 3 ${best} s"
# The target is 0.2 s on an idle machine (printed above); the assertion is generous because CI
# machines run many tests at once (a 2-core machine at load 16 measured 0.47 s).
/usr/bin/python3 -c "import sys; assert float(sys.argv[1]) < 2.0, sys.argv[1]" "$best" || fail "a cache hit took ${best} s"
[ "$(sha256sum <"$P/conda-lock.yml")" = "$lock_sum" ] || fail "a cache hit rewrote the lock"
[ -s "$S/b.err" ] && { cat "$S/b.err"; fail "a cache hit printed something on stderr"; }

# 3. lib 2.0 appears in the channel, then the file gains `extra`: re-locked, lib kept at 1.0
#    (the old lock's version), and only extra's layer (and conda-meta) written.
mkpkgs '[{"name": "lib", "version": "2.0", "build": "0", "files": {"lib/lib.txt": {"text": "lib 2.0"}}}]'
printf 'name: one\nchannels: [./channel]\ndependencies: [tool, extra]\n' >"$P/env.yml"
build --explain || { cat "$S/b.err"; fail "build after the edit"; }
grep -q "re-locked \`$P/conda-lock.yml\` (\`env.yml\` changed since it was locked)" "$S/b.err" || { cat "$S/b.err"; fail "no re-lock message"; }
grep -A1 -- '- name: lib' "$P/conda-lock.yml" | grep -q "version: '\?1.0" || { cat "$P/conda-lock.yml"; fail "re-lock did not keep lib 1.0"; }
/usr/bin/python3 - "$S/b.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert not d["cached"] and d["lock"]["action"] == "relocked", d
assert d["layers_written"] == 1 and d["layers_reused"] == 2, d
PY
layers test/one:1 >"$S/l2"
[ "$(wc -l <"$S/l2")" = 5 ] || fail "5 layers after adding extra"
[ "$(comm -12 <(sort "$S/l1") <(sort "$S/l2") | wc -l)" = 3 ] || fail "base, tool and lib layers should be reused"
# `envpack lock` itself solves afresh (lib 2.0), for comparison.
"$ENVPACK" lock -f "$P/env.yml" -o "$S/fresh.yml" >/dev/null
grep -A1 -- '- name: lib' "$S/fresh.yml" | grep -q "version: '\?2.0" || fail "a fresh lock should take lib 2.0"

# 4. --virtual __cuda=12.4 changes the target: the lock is stale, re-solved, and records it.
build --virtual __cuda=12.4 || { cat "$S/b.err"; fail "build with --virtual"; }
grep -q 're-locked .*virtual packages for linux-64 changed (+__cuda=12.4=0)' "$S/b.err" || { cat "$S/b.err"; fail "no re-lock for --virtual"; }
grep -q '__cuda=12.4=0' "$P/conda-lock.yml" || fail "the lock does not record __cuda"
build --virtual __cuda=12.4 && [ "$(jget "$S/b.json" 'd["lock"]["action"]')" = used ] || fail "same --virtual re-locked again"
# A package that needs CUDA cannot be locked without it, and can with it.
printf 'name: one\nchannels: [./channel]\ndependencies: [tool, extra, gpu]\n' >"$P/env.yml"
expect_exit 3 "$ENVPACK" build -f "$P/env.yml" --base test/base:1 -t test/one:1
build --virtual __cuda=12.4 || { cat "$S/b.err"; fail "gpu with __cuda"; }

# 5. A base whose label declares __cuda=12.4: a lock made for it needs no --virtual, and
#    switching back to the CPU base makes it stale.
/usr/bin/python3 - "$ENVPACK_HOME/store" <<'PY'
# Copy test/base:1 as test/cudabase:1 with the label org.envpack.virtual-packages.
import hashlib, json, os, sys
root = sys.argv[1]
def blob(d): return os.path.join(root, "blobs", "sha256", d.split(":")[1])
def put(data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, "blobs", "sha256", h), "wb") as f: f.write(data)
    return "sha256:" + h, len(data)
index = json.load(open(os.path.join(root, "index.json")))
entry = next(m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "test/base:1")
manifest = json.load(open(blob(entry["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
config.setdefault("config", {}).setdefault("Labels", {})["org.envpack.virtual-packages"] = "__glibc=2.36 __cuda=12.4"
d, n = put(json.dumps(config, sort_keys=True, separators=(",", ":")).encode())
manifest["config"]["digest"], manifest["config"]["size"] = d, n
d, n = put(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
new = dict(entry, digest=d, size=n, annotations={"org.opencontainers.image.ref.name": "test/cudabase:1"})
index["manifests"].append(new)
with open(os.path.join(root, "index.json"), "w") as f: json.dump(index, f)
PY
"$ENVPACK" build -f "$P/env.yml" --base test/cudabase:1 -t test/one:cuda --json >"$S/c.json" 2>"$S/c.err" || { cat "$S/c.err"; fail "build on the CUDA base"; }
[ "$(jget "$S/c.json" 'd["lock"]["action"]')" = used ] || { cat "$S/c.err"; fail "the CUDA base's label should match the lock made with --virtual __cuda=12.4"; }
[ "$(jget "$S/c.json" '" ".join(d["virtual_packages"])')" = "__glibc=2.36 __cuda=12.4" ] || fail "virtual packages from the label"
expect_exit 2 "$ENVPACK" build -f "$P/env.yml" --base test/base:1 -t test/one:1 --locked
grep -q "is stale: the virtual packages for linux-64 changed (-__cuda=12.4=0)" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "CPU base: stale message"; }

# 6. --locked on a stale lock: exit 2 naming the file; the lock is left alone.
printf 'name: one\nchannels: [./channel]\ndependencies: [tool]\n' >"$P/env.yml"
lock_sum=$(sha256sum <"$P/conda-lock.yml")
expect_exit 2 "$ENVPACK" build -f "$P/env.yml" --base test/cudabase:1 -t test/one:1 --locked
grep -q "\`$P/conda-lock.yml\` is stale: \`env.yml\` changed since it was locked" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "--locked message"; }
[ "$(sha256sum <"$P/conda-lock.yml")" = "$lock_sum" ] || fail "--locked changed the lock"

# 7. --frozen builds from the lock as it is: gpu and extra stay, the lock is unchanged.
"$ENVPACK" build -f "$P/env.yml" --base test/cudabase:1 -t test/one:frozen --frozen --json >"$S/f.json" 2>"$S/f.err" || { cat "$S/f.err"; fail "--frozen"; }
[ "$(sha256sum <"$P/conda-lock.yml")" = "$lock_sum" ] || fail "--frozen changed the lock"
"$ENVPACK" inspect test/one:frozen --json | /usr/bin/python3 -c '
import json, sys
pk = json.loads(json.load(sys.stdin)["labels"]["org.envpack.packages"])
names = sorted(p["name"] for p in pk)
assert names == ["extra", "gpu", "lib", "tool"], names' || fail "--frozen did not build the lock's packages"
expect_exit 2 "$ENVPACK" build -f "$P/env.yml" --locked --frozen
rm "$P/conda-lock.yml"
expect_exit 2 "$ENVPACK" build -f "$P/env.yml" --frozen
grep -q "no lock file \`$P/conda-lock.yml\`" "$SCRATCH/err" || { cat "$SCRATCH/err"; fail "--frozen without a lock"; }
echo ok
