#!/usr/bin/python3
"""Helpers for the unpack_*.sh tests (not a test itself).

  unpack_lib.py manifest ROOT [--exclude REL]...
      one line per entry: path, type, uid:gid, mode, xattrs (user.* and security.*, hex), link
      target or content sha256; then hard-link groups. Sorted; for comparing trees.
  unpack_lib.py add-image STORE NAME LAYER... [--size-lie N]
      adds an image made of the given layer blobs (.tar, .tar.gz or .tar.zst files, used as
      they are) to an OCI layout STORE under ref.name NAME. Prints the manifest digest.
  unpack_lib.py fake-layer STORE NAME REAL_LAYER FAKE_BLOB
      like add-image with one layer whose descriptor (digest, size, diff_id) is REAL_LAYER's while
      the blob stored under that digest holds FAKE_BLOB's bytes (a store with a damaged blob).
"""
import gzip
import hashlib
import json
import os
import stat
import subprocess
import sys


def tree_manifest(root, excludes):
    out = []
    inodes = {}
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if any(rel == e or rel.startswith(e + "/") for e in excludes):
                continue
            st = os.lstat(p)
            kind = ("L" if stat.S_ISLNK(st.st_mode) else "D" if stat.S_ISDIR(st.st_mode)
                    else "F" if stat.S_ISREG(st.st_mode) else "?")
            xattrs = []
            try:
                for k in sorted(os.listxattr(p, follow_symlinks=False)):
                    if k.startswith("user.") or (k.startswith("security.") and k != "security.selinux"):
                        xattrs.append(f"{k}={os.getxattr(p, k, follow_symlinks=False).hex()}")
            except OSError:
                pass
            line = f"{kind} {rel!r} {st.st_uid}:{st.st_gid} {stat.S_IMODE(st.st_mode):o} [{' '.join(xattrs)}]"
            if kind == "L":
                line += f" -> {os.readlink(p)!r}"
            elif kind == "F":
                with open(p, "rb") as f:
                    line += " " + hashlib.sha256(f.read()).hexdigest()
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            out.append(line)
    for group in inodes.values():
        if len(group) > 1:
            out.append("H " + " = ".join(repr(g) for g in sorted(group)))
    print("\n".join(sorted(out)))


def put_blob(store, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(store, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + digest


def uncompressed(data):
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
    return data


def media_type(data):
    if data[:2] == b"\x1f\x8b":
        return "application/vnd.oci.image.layer.v1.tar+gzip"
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return "application/vnd.oci.image.layer.v1.tar+zstd"
    return "application/vnd.oci.image.layer.v1.tar"


def add_image(store, name, layers):
    """layers: list of (descriptor bytes, stored bytes)."""
    descs = []
    diff_ids = []
    for real, stored in layers:
        d = "sha256:" + hashlib.sha256(real).hexdigest()
        with open(os.path.join(store, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(stored)
        descs.append({"mediaType": media_type(real), "digest": d, "size": len(real)})
        diff_ids.append("sha256:" + hashlib.sha256(uncompressed(real)).hexdigest())
    config = json.dumps({
        "created": "1970-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "unpack test"}] * len(descs),
    }, sort_keys=True, separators=(",", ":")).encode()
    cdesc = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put_blob(store, config),
             "size": len(config)}
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": cdesc, "layers": descs},
                          sort_keys=True, separators=(",", ":")).encode()
    mdigest = put_blob(store, manifest)
    index_path = os.path.join(store, "index.json")
    with open(index_path) as f:
        index = json.load(f)
    index["manifests"] = [m for m in index.get("manifests", [])
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != name]
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "digest": mdigest, "size": len(manifest),
                               "annotations": {"org.opencontainers.image.ref.name": name},
                               "platform": {"architecture": "amd64", "os": "linux"}})
    with open(index_path + ".tmp", "w") as f:
        json.dump(index, f)
    os.rename(index_path + ".tmp", index_path)
    print(mdigest)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "manifest":
        excludes = [args[i + 1] for i, a in enumerate(args) if a == "--exclude"]
        tree_manifest(args[0], excludes)
    elif cmd == "add-image":
        store, name, files = args[0], args[1], args[2:]
        add_image(store, name, [(read(f), read(f)) for f in files])
    elif cmd == "fake-layer":
        store, name, real, fake = args
        add_image(store, name, [(read(real), read(fake))])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
