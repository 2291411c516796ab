"""A small JSON API built on the standard library only (http.server + json): nothing to pip install.

    GET  /health        {"status": "ok", "items": N}
    GET  /items         the list of items
    GET  /items/<id>    one item (404 when there is no such id)
    POST /items         {"name": "..."} adds an item; answers 201 with the new item

Items live in memory: they are gone when the process ends. HOST and PORT come from the
environment (default 0.0.0.0:5000): inside a container the server must listen on every
interface, because a published port reaches the container through its network interface,
not through its loopback.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = os.environ.get("HOST", "0.0.0.0")
PORT = int(os.environ.get("PORT", "5000"))
MAX_BODY = 64 * 1024  # bytes; a bigger request body is refused with 413

items: list[dict] = []
items_lock = threading.Lock()  # ThreadingHTTPServer answers each request in its own thread


class Handler(BaseHTTPRequestHandler):
    server_version = "capstone-api/1"

    def send_json(self, status: int, body, headers: dict | None = None) -> None:
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        with items_lock:
            if path == "/health":
                return self.send_json(200, {"status": "ok", "items": len(items)})
            if path == "/items":
                return self.send_json(200, items)
            if path.startswith("/items/"):
                wanted = path.removeprefix("/items/")
                for item in items:
                    if str(item["id"]) == wanted:
                        return self.send_json(200, item)
                return self.send_json(404, {"error": f"no item with id {wanted}"})
        self.send_json(404, {"error": f"no route GET {path}", "routes": ["/health", "/items", "/items/<id>"]})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/items":
            return self.send_json(404, {"error": f"no route POST {path}", "routes": ["/items"]})
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.send_json(413, {"error": f"the body has {length} bytes; at most {MAX_BODY} are accepted"})
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return self.send_json(400, {"error": "the body is not valid JSON"})
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
            return self.send_json(400, {"error": 'expected a JSON object like {"name": "coffee"}'})
        with items_lock:
            item = {"id": len(items) + 1, "name": body["name"].strip()}
            items.append(item)
        self.send_json(201, item, {"Location": f"/items/{item['id']}"})

    def log_message(self, fmt: str, *args) -> None:
        # one line a request on stdout, flushed at once, so `docker logs` shows it immediately
        print(f"{self.address_string()} {fmt % args}", flush=True)


def stop(signum, _frame) -> None:
    # As PID 1 in a container, a process gets no default action for SIGTERM: without this
    # handler `docker stop` would wait 10 seconds and then kill it.
    print(f"got signal {signum}, stopping", flush=True)
    sys.exit(0)


def main() -> None:
    signal.signal(signal.SIGTERM, stop)
    server = ThreadingHTTPServer((HOST, PORT), Handler)
    print(f"capstone-api listening on http://{HOST}:{PORT}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
