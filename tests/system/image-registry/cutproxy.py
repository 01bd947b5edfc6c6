#!/usr/bin/env python3
"""Test helper: an HTTP proxy to a registry that cuts the first download of
each blob halfway (headers for the whole body, half of it, then the
connection closes), and forwards everything else, Range requests included.
Each Range header it forwards is appended to LOG. With "whole", a Range
request is answered with the whole blob (200), as a server that cannot
resume: the client must start the blob over.

  cutproxy.py LISTEN_PORT UPSTREAM_HOST:PORT LOG [whole]
"""
import http.client, http.server, sys

port, upstream, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
whole = len(sys.argv) > 4 and sys.argv[4] == "whole"
cut_done = set()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def forward(self, method):
        body = None
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            body = self.rfile.read(n)
        c = http.client.HTTPConnection(upstream)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() != "host"
                and not (whole and k.lower() == "range")}
        c.request(method, self.path, body, hdrs)
        r = c.getresponse()
        data = r.read()
        rng = self.headers.get("Range")
        if rng:
            with open(log, "a") as f:
                f.write(f"{self.path} {rng}\n")
        cut = (method == "GET" and "/blobs/" in self.path and not rng
               and r.status == 200 and self.path not in cut_done
               and len(data) > 1024)
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        if cut:
            cut_done.add(self.path)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        self.forward("GET")

    def do_HEAD(self):
        self.forward("HEAD")


http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
