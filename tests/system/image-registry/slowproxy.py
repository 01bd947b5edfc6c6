#!/usr/bin/env python3
"""Test helper: an HTTP proxy to a registry that holds every blob GET for
HOLD seconds before answering and writes, after each change, the number of
blob GETs in flight at once so far ("max N") to LOG.

  slowproxy.py LISTEN_PORT UPSTREAM_HOST:PORT LOG HOLD
"""
import http.client, http.server, sys, threading, time

port, upstream, log, hold = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
lock = threading.Lock()
state = {"now": 0, "max": 0}


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        blob = "/blobs/" in self.path
        if blob:
            with lock:
                state["now"] += 1
                state["max"] = max(state["max"], state["now"])
                with open(log, "w") as f:
                    f.write(f"max {state['max']}\n")
            time.sleep(hold)
        try:
            c = http.client.HTTPConnection(upstream)
            hdrs = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            c.request("GET", self.path, None, hdrs)
            r = c.getresponse()
            data = r.read()
        finally:
            if blob:
                with lock:
                    state["now"] -= 1
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
