#!/bin/bash
# The local store is a real OCI layout: skopeo reads it, umoci unpacks it to the same tree
# (files, modes, symlinks, hard links), and its documents validate against the image-spec schemas.
. "$(dirname "$0")/lib.sh"
need skopeo umoci go

src="$SCRATCH/src"
mkdir -p "$src/usr/bin" "$src/etc/deep/er" "$src/empty" "$src/$(printf 'd%.0s' {1..120})"
printf '#!/bin/sh\necho hello\n' > "$src/usr/bin/hello"; chmod 755 "$src/usr/bin/hello"
echo "config" > "$src/etc/deep/er/app.conf"; chmod 600 "$src/etc/deep/er/app.conf"
ln "$src/usr/bin/hello" "$src/usr/bin/hello-hard"
ln "$src/usr/bin/hello" "$src/a-first-hard"
ln -s ../usr/bin/hello "$src/etc/hello-link"
ln -s /nonexistent/abs "$src/dangling"
head -c 3000000 /dev/urandom > "$src/usr/bin/blob.bin"
echo long > "$src/$(printf 'd%.0s' {1..120})/$(printf 'f%.0s' {1..150})"
touch "$src/$(printf 'caf\xc3\xa9')" "$src/$(printf 'raw\xff\xfe')"
chmod 4755 "$src/usr/bin/blob.bin"

for comp in gzip zstd; do
  "$ENVPACK" import "$src" -t "interop/$comp:1" --compression "$comp" > "$SCRATCH/import.out"
  digest=$(awk '{print $2}' "$SCRATCH/import.out")
  [ "$comp" = gzip ] && gzip_digest=$digest
  skopeo inspect "oci:$ENVPACK_HOME/store:interop/$comp:1" > "$SCRATCH/skopeo.json"
  grep -q "\"Digest\": \"$digest\"" "$SCRATCH/skopeo.json" || fail "skopeo sees another digest ($comp)"
  rm -rf "$SCRATCH/bundle" "$SCRATCH/conv"
  if [ "$comp" = zstd ]; then
    # Debian's umoci 0.4.7 predates zstd layers: let skopeo decompress ours and re-gzip them.
    skopeo copy -q --dest-compress-format gzip "oci:$ENVPACK_HOME/store:interop/$comp:1" "oci:$SCRATCH/conv:x"
    umoci unpack --image "$SCRATCH/conv:x" "$SCRATCH/bundle" >/dev/null
  else
    umoci unpack --image "$ENVPACK_HOME/store:interop/$comp:1" "$SCRATCH/bundle" >/dev/null
  fi
  diff <(tree_manifest "$src") <(tree_manifest "$SCRATCH/bundle/rootfs") || fail "umoci unpack differs from the source tree ($comp)"
done

# skopeo can copy it out to another layout with the same manifest digest.
skopeo copy -q "oci:$ENVPACK_HOME/store:interop/gzip:1" "oci:$SCRATCH/copy:x"
grep -q "\"${gzip_digest}\"" "$SCRATCH/copy/index.json" || fail "skopeo copy changed the manifest digest"

validator=$(oci_validator)
"$validator" "$ENVPACK_HOME/store" > "$SCRATCH/validate.out" || { cat "$SCRATCH/validate.out"; fail "schema validation"; }
grep -c '^ok' "$SCRATCH/validate.out" | grep -qv '^0$'
echo "store interop ok"
