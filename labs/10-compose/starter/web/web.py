"""web: a page that counts its visits in countdb, which it finds at $DB_HOST:$DB_PORT.

  GET /         adds a visit and says how many there were
  GET /health   200 when countdb answers, 503 when not
  GET /crash    the process exits with status 3 at once (to watch a restart policy at work)

It checks countdb once when it starts and exits with status 1 if countdb does not answer.
"""
import http.server
import os
import signal
import socket
import sys
import urllib.request

DB_HOST = os.environ.get("DB_HOST", "localhost")
DB_PORT = int(os.environ.get("DB_PORT", "7379"))
PORT = int(os.environ.get("PORT", "8000"))
GREETING = os.environ.get("GREETING", "Hello")


def db(method: str, path: str) -> str:
    req = urllib.request.Request(f"http://{DB_HOST}:{DB_PORT}{path}", method=method)
    with urllib.request.urlopen(req, timeout=3) as answer:
        return answer.read().decode().strip()


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, text):
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/crash":
            print("web: crashing on purpose", flush=True)
            os._exit(3)
        try:
            if self.path == "/health":
                return self.answer(200, f"ok: countdb at {DB_HOST}:{DB_PORT} answers {db('GET', '/health')}")
            if self.path == "/":
                visits = db("POST", "/incr/visits")
                return self.answer(200, f"{GREETING} from {socket.gethostname()}! Visits: {visits} "
                                        f"(counted by countdb at {DB_HOST}:{DB_PORT})")
        except OSError as exc:
            return self.answer(503, f"countdb at {DB_HOST}:{DB_PORT} does not answer: {exc}")
        self.answer(404, "not found")

    def log_message(self, fmt, *args):
        print(f"web: {self.command} {self.path}", flush=True)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 gets no default SIGTERM action: stop at once
    try:
        db("GET", "/health")
    except OSError as exc:
        print(f"web: cannot reach countdb at {DB_HOST}:{DB_PORT}: {exc}", flush=True)
        return 1
    print(f"web: countdb at {DB_HOST}:{DB_PORT} answers; serving on port {PORT}", flush=True)
    http.server.ThreadingHTTPServer(("", PORT), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
