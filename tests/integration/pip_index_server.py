#!/usr/bin/python3
"""A PEP 503/691 simple index over a directory of wheels, for envpack's pip tests, on 127.0.0.1
port 0 (the port is written to --port-file once listening).

  /simple/<normalised name>/   the project's files: JSON (PEP 691) when the client accepts it and
                               --format is json or both, HTML (PEP 503) otherwise; 404 for a
                               project without files; garbage HTML with --garbage
  /files/<filename>            the file; honours `Range: bytes=a-b` (206) unless --no-range, and
                               HEAD (with Accept-Ranges); --corrupt NAME serves NAME with a byte
                               flipped (so its sha256 no longer matches the page)
  /files/<filename>.metadata   PEP 658 metadata when --metadata is given

Each request is appended to --log as `METHOD PATH RANGE` (for the tests to count).
"""
import argparse
import hashlib
import html
import http.server
import json
import os
import re
import sys
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
import fixture_server  # noqa: E402


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(filename):
    if filename.endswith(".whl"):
        return normalize(filename.split("-")[0])
    return normalize(filename.rsplit("-", 1)[0])


def metadata_of(path):
    with zipfile.ZipFile(path) as z:
        for n in z.namelist():
            if n.count("/") == 1 and n.split("/")[0].endswith(".dist-info") and n.endswith("/METADATA"):
                return z.read(n)
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log(self):
        if self.server.options.log:
            with open(self.server.options.log, "a") as f:
                f.write(f"{self.command} {self.path} {self.headers.get('Range', '-')}\n")

    def send(self, code, body, ctype="text/html", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.log()
        a = self.server.options
        files = sorted(os.listdir(a.dir))
        m = re.match(r"^/simple/([^/]+)/$", self.path)
        if m:
            if a.garbage:
                return self.send(200, b"<html><body><h1>Welcome to nginx!</h1><p>Not an index",)
            name = m.group(1)
            mine = [f for f in files if project_of(f) == name]
            if not mine:
                return self.send(404, b"not found")
            wants_json = "application/vnd.pypi.simple.v1+json" in self.headers.get("Accept", "")
            entries = []
            for f in mine:
                data = open(os.path.join(a.dir, f), "rb").read()
                meta = metadata_of(os.path.join(a.dir, f)) if a.metadata and f.endswith(".whl") else None
                entries.append((f, hashlib.sha256(data).hexdigest(), meta))
            if wants_json and a.format in ("json", "both"):
                body = {"meta": {"api-version": "1.0"}, "name": name, "files": []}
                for f, sha, meta in entries:
                    e = {"filename": f, "url": f"../../files/{f}", "hashes": {"sha256": sha}}
                    if meta is not None:
                        e["core-metadata"] = {"sha256": hashlib.sha256(meta).hexdigest()}
                    body["files"].append(e)
                return self.send(200, json.dumps(body).encode(), "application/vnd.pypi.simple.v1+json")
            links = []
            for f, sha, meta in entries:
                attr = ""
                if meta is not None:
                    attr = f' data-core-metadata="sha256={hashlib.sha256(meta).hexdigest()}"'
                links.append(f'<a href="../../files/{html.escape(f)}#sha256={sha}"{attr}>{html.escape(f)}</a><br/>')
            page = "<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n"
            return self.send(200, page.encode())
        m = re.match(r"^/files/([^/]+)$", self.path)
        if m:
            name = m.group(1)
            if name.endswith(".metadata") and a.metadata:
                path = os.path.join(a.dir, name[: -len(".metadata")])
                meta = metadata_of(path) if os.path.exists(path) else None
                if meta is None:
                    return self.send(404, b"no metadata")
                return self.send(200, meta, "text/plain")
            path = os.path.join(a.dir, name)
            if not os.path.isfile(path):
                return self.send(404, b"not found")
            data = open(path, "rb").read()
            if a.corrupt and name == a.corrupt:
                data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
            rng = self.headers.get("Range")
            if rng and not a.no_range:
                mm = re.match(r"bytes=(\d*)-(\d*)$", rng)
                if mm:
                    if mm.group(1) == "":
                        start = max(0, len(data) - int(mm.group(2)))
                        end = len(data) - 1
                    else:
                        start = int(mm.group(1))
                        end = int(mm.group(2)) if mm.group(2) else len(data) - 1
                    end = min(end, len(data) - 1)
                    return self.send(206, data[start:end + 1], "application/octet-stream",
                                     [("Content-Range", f"bytes {start}-{end}/{len(data)}"),
                                      ("Accept-Ranges", "bytes")])
            extra = [] if a.no_range else [("Accept-Ranges", "bytes")]
            return self.send(200, data, "application/octet-stream", extra)
        self.send(404, b"not found")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--format", choices=["html", "json", "both"], default="both")
    p.add_argument("--metadata", action="store_true")
    p.add_argument("--no-range", action="store_true")
    p.add_argument("--garbage", action="store_true")
    p.add_argument("--corrupt")
    p.add_argument("--log")
    fixture_server.add_port_args(p)
    a = p.parse_args()
    fixture_server.serve(Handler, a, options=a)


if __name__ == "__main__":
    sys.exit(main())
