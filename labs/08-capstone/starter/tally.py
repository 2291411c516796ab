"""tally: a visit counter that keeps its count on disk and asks a cache container for a motto.

Standard library only: nothing to pip install.

    GET /         counts the visit: {"visits": N, "motto": "...", "host": "<this container>"}
    GET /health   200 when the data folder is writable (with how many containers have used it), else 503
    GET /motto    the motto, fetched from the cache: 200, or 502 when the cache does not answer

Settings from the environment:
    HOST       0.0.0.0    (inside a container: every interface, or a published port cannot reach it)
    PORT       8765
    DATA_DIR   /data      the count and starts.log live here: mount a volume on it to keep them
    CACHE_URL  http://tally-cache:8080/motto.txt

Every start appends "<time> <hostname>" to DATA_DIR/starts.log. A container's hostname is its
ID, so a volume that outlives its containers collects the starts of several of them.
"""

import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = os.environ.get("HOST", "0.0.0.0")
PORT = int(os.environ.get("PORT", "8765"))
DATA = Path(os.environ.get("DATA_DIR", "/data"))
CACHE_URL = os.environ.get("CACHE_URL", "http://tally-cache:8080/motto.txt")
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the cache is local: never a proxy
lock = threading.Lock()


def data_problem():
    """None when DATA is a folder this process can write to; otherwise what is wrong."""
    try:
        DATA.mkdir(parents=True, exist_ok=True)
        probe = DATA / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return f"{DATA} is not writable by uid {os.getuid()}: {exc.strerror}"
    return None


def containers_seen():
    try:
        return len({line.split()[1] for line in (DATA / "starts.log").read_text().splitlines() if " " in line})
    except OSError:
        return 0


def count_visit():
    with lock:
        path = DATA / "visits"
        visits = int(path.read_text() or 0) + 1 if path.exists() else 1
        path.write_text(str(visits))
        return visits


def motto():
    """(text, None) from the cache, or (None, why not); never waits longer than 2.5 s.

    A name that no DNS server knows can take several seconds to fail, longer than urlopen's
    timeout covers, so the request runs in a thread of its own.
    """
    found = {}

    def fetch():
        try:
            with DIRECT.open(CACHE_URL, timeout=2) as answer:
                found["text"] = answer.read().decode().strip()
        except (OSError, ValueError) as exc:
            found["why"] = f"{CACHE_URL} did not answer: {exc}"

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    worker.join(2.5)
    if "text" in found:
        return found["text"], None
    return None, found.get("why") or f"{CACHE_URL} did not answer within 2.5 s (is its name known on this network?)"


class Handler(BaseHTTPRequestHandler):
    def send_json(self, status, body):
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        problem = data_problem()
        if self.path == "/health":
            if problem:
                return self.send_json(503, {"status": "error", "problem": problem})
            return self.send_json(200, {"status": "ok", "data": str(DATA), "containers_seen": containers_seen()})
        if self.path == "/motto":
            text, why = motto()
            return self.send_json(200, {"motto": text}) if text else self.send_json(502, {"error": why})
        if self.path == "/":
            if problem:
                return self.send_json(503, {"error": problem})
            text, why = motto()
            return self.send_json(200, {"visits": count_visit(), "motto": text or f"(no motto: {why})",
                                        "host": socket.gethostname()})
        self.send_json(404, {"error": f"no route {self.path}", "routes": ["/", "/health", "/motto"]})

    def log_message(self, fmt, *args):
        print(f"{self.address_string()} {fmt % args}", flush=True)


def main():
    # As PID 1 a process gets no default action for SIGTERM: without this, docker stop waits 10 s.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    problem = data_problem()
    if problem:
        print(f"WARNING: {problem}; /health answers 503 until it is fixed", flush=True)
    else:
        with open(DATA / "starts.log", "a") as log:
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {socket.gethostname()}\n")
    print(f"tally listening on http://{HOST}:{PORT}, data in {DATA}, cache at {CACHE_URL}", flush=True)
    ThreadingHTTPServer((HOST, PORT), Handler).serve_forever()


if __name__ == "__main__":
    main()
