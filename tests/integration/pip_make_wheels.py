#!/usr/bin/python3
"""Writes the wheels envpack's pip tests and benchmark install, with zipfile, as wheel builders do.

usage: pip_make_wheels.py good DIR        the test set (pure, manylinux, .data, extras+markers,
                                          a conflicting pair, console and GUI scripts, an sdist)
       pip_make_wheels.py bad DIR         malformed wheels, one defect each (see BAD below)
       pip_make_wheels.py bench DIR [N]   N (default 50) wheels of realistic sizes and dependency
                                          shapes; prints the top-level requirements

Every wheel is deterministic (fixed timestamps, sorted members) so a test can rebuild it.
"""

import base64
import hashlib
import io
import os
import random
import re
import sys
import zipfile

EPOCH = (2020, 1, 1, 0, 0, 0)


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


def metadata(name, version, requires=(), extras=(), requires_python=None):
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", "Summary: test"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    for e in extras:
        lines.append(f"Provides-Extra: {e}")
    for r in requires:
        lines.append(f"Requires-Dist: {r}")
    return ("\n".join(lines) + "\n\nA package made by envpack's tests.\n").encode()


def wheel_text(purelib=True, tag="py3-none-any", version="1.0"):
    return (
        f"Wheel-Version: {version}\nGenerator: envpack-tests\n"
        f"Root-Is-Purelib: {'true' if purelib else 'false'}\nTag: {tag}\n"
    ).encode()


def write_wheel(path, files, *, record_mutator=None, skip_record=False):
    """files: list of (name, bytes, mode). RECORD is computed unless skip_record."""
    names = [f[0] for f in files]
    info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
    rows = [(n, record_hash(d), str(len(d))) for n, d, _ in files]
    if record_mutator:
        rows = record_mutator(rows)
    record = "".join(f"{a},{b},{c}\n" for a, b, c in rows) + f"{info}/RECORD,,\n"
    all_files = list(files)
    if not skip_record:
        all_files.append((f"{info}/RECORD", record.encode(), 0o644))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in all_files:
            zi = zipfile.ZipInfo(name, EPOCH)
            zi.external_attr = (0o100000 | mode) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)


def dist(name, version, *, requires=(), extras=(), purelib=True, tag="py3-none-any",
         modules=None, data=(), entry_points=None, wheel_version="1.0", requires_python=None):
    mod = re.sub(r"[-_.]+", "_", name)
    info = f"{mod}-{version}.dist-info"
    files = []
    for rel, content, mode in modules if modules is not None else [
        (f"{mod}/__init__.py", f"__version__ = '{version}'\n".encode(), 0o644)
    ]:
        files.append((rel, content, mode))
    for rel, content, mode in data:
        files.append((f"{mod}-{version}.data/{rel}", content, mode))
    files.append((f"{info}/METADATA", metadata(name, version, requires, extras, requires_python), 0o644))
    files.append((f"{info}/WHEEL", wheel_text(purelib, tag, wheel_version), 0o644))
    if entry_points:
        files.append((f"{info}/entry_points.txt", entry_points.encode(), 0o644))
    return f"{mod}-{version}-{tag}.whl", files


def good(out):
    os.makedirs(out, exist_ok=True)
    wheels = [
        dist("alpha", "1.0", requires=["beta>=1.0"],
             modules=[("alpha/__init__.py", b"from beta import VALUE\n", 0o644),
                      ("alpha/cli.py", b"def main():\n    print('alpha says hi')\n    return 0\n", 0o644)],
             entry_points="[console_scripts]\nalpha = alpha.cli:main\nalpha-extra = alpha.cli:main [fancy]\n"
                          "\n[gui_scripts]\nalpha-gui = alpha.cli:main\n"
                          "\n[other.group]\nignored = alpha:main\n"),
        dist("beta", "1.0", modules=[("beta/__init__.py", b"VALUE = 1\n", 0o644)]),
        dist("beta", "2.0", modules=[("beta/__init__.py", b"VALUE = 2\n", 0o644)]),
        dist("beta", "3.0a1", modules=[("beta/__init__.py", b"VALUE = 3\n", 0o644)]),
        dist("gamma", "1.0", purelib=False, tag="cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
             modules=[("gamma/__init__.py", b"from gamma._native import *\n", 0o644),
                      ("gamma/_native.cpython-311-x86_64-linux-gnu.so", bytes(range(256)) * 64, 0o755)]),
        dist("gamma", "1.0", purelib=False, tag="cp311-cp311-musllinux_1_1_x86_64",
             modules=[("gamma/__init__.py", b"# musl\n", 0o644)]),
        dist("delta", "1.0",
             data=[("scripts/delta-tool", b"#!python\nimport delta\nprint('delta tool', delta.X)\n", 0o755),
                   ("scripts/delta-sh", b"#!/bin/sh\necho delta-sh\n", 0o755),
                   ("headers/delta.h", b"#define DELTA 1\n", 0o644),
                   ("data/share/delta/readme.txt", b"delta data\n", 0o644),
                   ("purelib/delta_extra.py", b"EXTRA = True\n", 0o644),
                   ("platlib/delta_plat.py", b"PLAT = True\n", 0o644)],
             modules=[("delta/__init__.py", b"X = 42\n", 0o644)]),
        dist("epsilon", "1.0", extras=["fast"],
             requires=['beta<2 ; extra == "fast"', 'zeta ; python_version < "3"',
                       'eta ; sys_platform == "linux"']),
        dist("eta", "1.0"),
        dist("conf-a", "1.0", requires=["beta<2"]),
        dist("conf-b", "1.0", requires=["beta>=2"]),
        dist("Mixed.Case_Name", "0.5", modules=[("mixed_case_name/__init__.py", b"", 0o644)]),
    ]
    for filename, files in wheels:
        write_wheel(os.path.join(out, filename), files)
    # An sdist-only project.
    with open(os.path.join(out, "srconly-1.0.tar.gz"), "wb") as f:
        f.write(b"\x1f\x8b" + b"\0" * 20)


BAD = {
    "hash": "a member whose bytes do not match RECORD",
    "unlisted": "a member RECORD does not list",
    "nohash": "a member listed in RECORD without a hash",
    "escape": "a member whose path climbs out of site-packages",
    "absolute": "a member with an absolute path",
    "dataescape": "a .data/scripts member that climbs out of bin",
    "nometadata": "no METADATA",
    "nowheel": "no WHEEL",
    "norecord": "no RECORD",
    "wheelv2": "Wheel-Version: 2.0",
    "badkey": "a .data member under an unknown scheme key",
    "badentry": "a console script without a callable suffix",
    "badrecordcsv": "a RECORD row with four fields",
}


def bad(out):
    os.makedirs(out, exist_ok=True)
    for defect in BAD:
        name = "bad" + defect
        kwargs = {}
        data = ()
        modules = [(f"{name}/__init__.py", b"X = 1\n", 0o644)]
        entry = None
        wheel_version = "1.0"
        if defect == "escape":
            modules.append(("../../../evil.txt", b"evil\n", 0o644))
        if defect == "absolute":
            modules.append(("/tmp/envpack-evil.txt", b"evil\n", 0o644))
        if defect == "dataescape":
            data = [("scripts/../../../../evil", b"evil\n", 0o755)]
        if defect == "badkey":
            data = [("nowhere/x.txt", b"x\n", 0o644)]
        if defect == "badentry":
            entry = "[console_scripts]\nbad = badbadentry\n"
        if defect == "wheelv2":
            wheel_version = "2.0"
        filename, files = dist(name, "1.0", modules=modules, data=data, entry_points=entry,
                               wheel_version=wheel_version)
        info = f"{name}-1.0.dist-info"
        if defect == "nometadata":
            files = [f for f in files if f[0] != f"{info}/METADATA"]
        if defect == "nowheel":
            files = [f for f in files if f[0] != f"{info}/WHEEL"]
        if defect == "hash":
            kwargs["record_mutator"] = lambda rows: [
                (a, record_hash(b"other") if a.endswith("__init__.py") else b, c) for a, b, c in rows]
        if defect == "unlisted":
            kwargs["record_mutator"] = lambda rows: [r for r in rows if not r[0].endswith("__init__.py")]
        if defect == "nohash":
            kwargs["record_mutator"] = lambda rows: [
                (a, "" if a.endswith("__init__.py") else b, c) for a, b, c in rows]
        if defect == "badrecordcsv":
            kwargs["record_mutator"] = lambda rows: [(a, b, c + ",extra") for a, b, c in rows]
        if defect == "norecord":
            kwargs["skip_record"] = True
        write_wheel(os.path.join(out, filename), files, **kwargs)


def bench(out, n):
    """n projects (two versions each) shaped like a data-science stack: a few big native ones, many
    small pure ones, a layered dependency graph (each depends on 0-4 later ones)."""
    os.makedirs(out, exist_ok=True)
    rng = random.Random(1234)
    names = [f"pkg{i:02d}" for i in range(n)]
    depended = set()
    for i, name in enumerate(names):
        later = names[i + 1:]
        deps = rng.sample(later, min(len(later), rng.randint(0, 4))) if later else []
        reqs = [f"{d}>={rng.randint(0, 1)}.0" for d in deps]
        depended.update(deps)
        r = rng.random()
        if r < 0.06:      # large native: numpy/scipy-like, many files, a few MB of .so
            nfiles, size, native = 600, 12 << 20, True
        elif r < 0.25:    # medium: a few hundred KB to 2 MB
            nfiles, size, native = 120, rng.randint(300 << 10, 2 << 20), rng.random() < 0.3
        else:             # small pure packages (six, idna, ...)
            nfiles, size, native = rng.randint(3, 40), rng.randint(8 << 10, 200 << 10), False
        mod = name
        modules = []
        per = max(1, size // nfiles)
        for k in range(nfiles):
            # Source-like text compresses as real sources do (random words).
            words = [rng.choice(("def", "return", "self", "import", "class", "value", "x", "for",
                                 "in", "if", "else", "None", "True", "(", ")", ":", "\n    "))
                     for _ in range(per // 5)]
            modules.append((f"{mod}/sub{k // 50}/m{k}.py", " ".join(words).encode()[:per], 0o644))
        if native:
            modules.append((f"{mod}/_core.cpython-311-x86_64-linux-gnu.so",
                            rng.randbytes(size // 2), 0o755))
        ep = f"[console_scripts]\n{name}-cli = {mod}.sub0.m0:main\n" if rng.random() < 0.2 else None
        tag = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64" if native else "py3-none-any"
        for version in ("1.0", "1.1"):
            filename, files = dist(name, version, requires=reqs, purelib=not native, tag=tag,
                                   modules=modules + [(f"{mod}/__init__.py", b"", 0o644)],
                                   entry_points=ep)
            write_wheel(os.path.join(out, filename), files)
    # The top-level requirements: every package nothing else depends on (so all n are installed).
    print(" ".join(n for n in names if n not in depended))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "good":
        good(out)
    elif mode == "bad":
        bad(out)
    elif mode == "bench":
        bench(out, int(sys.argv[3]) if len(sys.argv) > 3 else 50)
    else:
        sys.exit(__doc__)
