"""countdb: a very small database server. It keeps counters in SQLite in $DATA_DIR and speaks HTTP.

  GET  /health       200 "ok"
  POST /incr/NAME    adds 1 to the counter NAME and answers its new value
  GET  /get/NAME     the counter's value (0 if it was never counted)

  python3 db.py ping     exits 0 when the server answers /health (for a healthcheck), 1 when not

Like a real database it takes a few seconds to start (it "replays its journal") before it
accepts connections: a client that connects at once is refused.
"""
import http.server
import os
import signal
import socket
import sqlite3
import sys
import time
import urllib.request

DATA_DIR = os.environ.get("DATA_DIR", "/data")
PORT = int(os.environ.get("DB_PORT", "7379"))
STARTUP_SECONDS = float(os.environ.get("DB_STARTUP_SECONDS", "3"))


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, text):
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            return self.answer(200, "ok")
        if self.path.startswith("/get/"):
            row = self.server.db.execute("SELECT value FROM counters WHERE name = ?", (self.path[5:],)).fetchone()
            return self.answer(200, str(row[0] if row else 0))
        self.answer(404, "not found")

    def do_POST(self):
        if not self.path.startswith("/incr/"):
            return self.answer(404, "not found")
        db, name = self.server.db, self.path[6:]
        with db:  # one transaction, committed when the block ends
            db.execute("INSERT INTO counters (name, value) VALUES (?, 1) "
                       "ON CONFLICT(name) DO UPDATE SET value = value + 1", (name,))
        self.answer(200, str(db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]))

    def log_message(self, fmt, *args):
        if self.path != "/health":
            print(f"countdb: {self.command} {self.path}", flush=True)


def ping() -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2) as answer:
            return 0 if answer.status == 200 else 1
    except OSError as exc:
        print(f"countdb is not answering: {exc}")
        return 1


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 gets no default SIGTERM action: stop at once
    print(f"countdb: starting, data in {DATA_DIR}", flush=True)
    time.sleep(STARTUP_SECONDS)  # replaying the journal: no connections accepted yet
    os.makedirs(DATA_DIR, exist_ok=True)
    db = sqlite3.connect(os.path.join(DATA_DIR, "counters.sqlite"), check_same_thread=False)
    db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.commit()
    server = http.server.ThreadingHTTPServer(("", PORT), Handler)
    server.db = db
    print(f"countdb: ready on {socket.gethostname()}:{PORT}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(ping() if sys.argv[1:] == ["ping"] else main())
