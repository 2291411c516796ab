"""hello-svc: a small HTTP service on port 80, Python's standard library only.

It keeps its state (its pid, a hit counter) in /tmp/hello-svc, and refuses to start if it cannot write
there. GET / counts the request and answers {"hello": "world", "hits": N}.
"""

import http.server
import json
import os

STATE = os.environ.get("STATE_DIR", "/tmp/hello-svc")


def hit() -> int:
    path = os.path.join(STATE, "hits")
    try:
        with open(path) as fh:
            n = int(fh.read() or 0) + 1
    except FileNotFoundError:
        n = 1
    with open(path, "w") as fh:
        fh.write(str(n))
    return n


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"hello": "world", "hits": hit()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    os.makedirs(STATE, exist_ok=True)
    with open(os.path.join(STATE, "pid"), "w") as fh:
        fh.write(str(os.getpid()))
    print(f"hello-svc: pid {os.getpid()}, uid {os.getuid()}, state in {STATE}, listening on :80", flush=True)
    http.server.HTTPServer(("", 80), Handler).serve_forever()
