#!/usr/bin/python3
"""Compares a prefix installed by Debian's pip (`pip install --prefix PIP`) with one installed by
`envpack pip install --prefix ENVPACK` from the same wheels.

Debian's pip puts purelib/platlib in PIP/local/lib/python3.X/dist-packages, scripts in
PIP/local/bin, data in PIP/local and headers in PIP/include/python3.X/NAME; envpack uses a conda
prefix's layout (lib/python3.X/site-packages, bin, the prefix, include/python3.X/NAME). Paths are
mapped, then: the same files; the same bytes (INSTALLER says pip / envpack; RECORD is compared
row by row after mapping its paths, and the INSTALLER row's hash and size are left out); the
same executable bits. Prints every difference and exits 1 if there is one.

usage: pip_compare.py PIP_PREFIX ENVPACK_PREFIX PYVER
"""
import csv
import io
import os
import posixpath
import stat
import sys


def walk(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root).replace(os.sep, "/")] = p
    return out


def main():
    pip_root, ep_root, pyver = sys.argv[1:4]
    pip_lib = f"local/lib/python{pyver}/dist-packages"
    ep_lib = f"lib/python{pyver}/site-packages"

    def map_pip(rel):
        if rel.startswith(pip_lib + "/"):
            return ep_lib + rel[len(pip_lib):]
        if rel.startswith("local/bin/"):
            return "bin/" + rel[len("local/bin/"):]
        if rel.startswith("include/"):
            return rel
        if rel.startswith("local/"):
            return rel[len("local/"):]
        return "UNMAPPED/" + rel

    def map_record_path(path):
        # A RECORD path is relative to the lib dir: resolve it in pip's tree, map, relativise.
        full = posixpath.normpath(posixpath.join(pip_lib, path))
        return posixpath.relpath(map_pip(full), ep_lib)

    pip_files = {map_pip(k): v for k, v in walk(pip_root).items()}
    ep_files = walk(ep_root)
    problems = []
    for rel in sorted(set(pip_files) - set(ep_files)):
        problems.append(f"only pip installed {rel}")
    for rel in sorted(set(ep_files) - set(pip_files)):
        problems.append(f"only envpack installed {rel}")
    for rel in sorted(set(pip_files) & set(ep_files)):
        a, b = pip_files[rel], ep_files[rel]
        xa = bool(os.stat(a).st_mode & stat.S_IXUSR)
        xb = bool(os.stat(b).st_mode & stat.S_IXUSR)
        if xa != xb:
            problems.append(f"{rel}: executable {xa} (pip) vs {xb} (envpack)")
        da, db = open(a, "rb").read(), open(b, "rb").read()
        name = rel.rsplit("/", 1)[-1]
        if name == "INSTALLER":
            if (da, db) != (b"pip\n", b"envpack\n"):
                problems.append(f"{rel}: INSTALLER {da!r} / {db!r}")
            continue
        if name == "RECORD" and rel.count("/") == 4:
            ra = list(csv.reader(io.StringIO(da.decode())))
            rb = list(csv.reader(io.StringIO(db.decode())))
            if not da.endswith(b"\r\n") or not db.endswith(b"\r\n"):
                problems.append(f"{rel}: line ends differ from csv.writer's")

            def norm(rows, mapper):
                out = set()
                for r in rows:
                    p = mapper(r[0])
                    if p.endswith(".dist-info/INSTALLER"):
                        out.add((p, "", ""))
                    else:
                        out.add((p, r[1], r[2]))
                return out

            sa, sb = norm(ra, map_record_path), norm(rb, lambda p: p)
            for r in sorted(sa - sb):
                problems.append(f"{rel}: only pip's RECORD has {r}")
            for r in sorted(sb - sa):
                problems.append(f"{rel}: only envpack's RECORD has {r}")
            if len(ra) != len(sa) or len(rb) != len(sb):
                problems.append(f"{rel}: duplicate rows")
            continue
        if da != db:
            problems.append(f"{rel}: contents differ ({len(da)} vs {len(db)} bytes)")
    for p in problems:
        print(p)
    print(f"compared {len(set(pip_files) & set(ep_files))} files, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
