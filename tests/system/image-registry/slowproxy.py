#!/usr/bin/env python3
"""Test helper: an HTTP proxy to a registry that holds every blob GET (a
download), POST (an upload or mount started) and PUT (an upload) for
HOLD seconds before forwarding it, and writes, after each change, the
most of each kind in flight at once so far ("get N", "post N", "put N"
lines) to LOG. The Host header
is forwarded as it came, so the registry's upload Locations point back
through the proxy.

  slowproxy.py LISTEN_PORT UPSTREAM_HOST:PORT LOG HOLD
"""
import http.client, http.server, sys, threading, time

port, upstream, log, hold = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
lock = threading.Lock()
now = {"GET": 0, "POST": 0, "PUT": 0}
most = {"GET": 0, "POST": 0, "PUT": 0}


def note(kind, d):
    with lock:
        now[kind] += d
        most[kind] = max(most[kind], now[kind])
        with open(log, "w") as f:
            f.write(f"get {most['GET']}\npost {most['POST']}\nput {most['PUT']}\n")


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def forward(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        counted = "/blobs/" in self.path and method in ("GET", "POST", "PUT")
        if counted:
            note(method, 1)
            time.sleep(hold)
        try:
            c = http.client.HTTPConnection(upstream)
            c.request(method, self.path, body, dict(self.headers.items()))
            r = c.getresponse()
            data = r.read()
        finally:
            if counted:
                note(method, -1)
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        self.forward("GET")

    def do_HEAD(self):
        self.forward("HEAD")

    def do_POST(self):
        self.forward("POST")

    def do_PUT(self):
        self.forward("PUT")


http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
