"""The sandbox's authorization plugin: Docker's AuthZ plugin protocol on a unix socket.

    python dockyard/authz_server.py --socket /run/docker/plugins/dockyard-NAME.sock --config DIR/authz.json

dockerd (started with ``--authorization-plugin=dockyard-NAME``) finds the socket in
/run/docker/plugins/, calls ``/Plugin.Activate`` once, then ``/AuthZPlugin.AuthZReq``
before and ``/AuthZPlugin.AuthZRes`` after every API request. The decision is
:func:`dockyard.authz.check`; responses are always allowed. If this process is gone,
dockerd refuses every request (fail closed): ``dockyard status`` says so and
``dockyard up`` restarts it.

It is started as a file, not ``-m dockyard...``, so it imports only the standard library
and the authz package (not docker-py or yaml): about 10 MB and 40 ms to start. The policy file
is re-read when it changes (one stat per request), so ``dockyard up --workspace DIR``
takes effect without a restart. Logged: one line per refusal (method, path without the
query, what was refused), never a request body or header.

It also keeps the sandbox's bridges closed to routing (:mod:`dockyard.routing`): before
it allows a container start, restart or network connect, after a network is created,
and whenever the kernel reports a link, address or forwarding change.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time

if __package__:
    from . import authz, routing
else:  # run as a file (python -I, which leaves the script's folder off sys.path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import authz  # type: ignore[no-redef]
    import routing  # type: ignore[no-redef]

ACTIVATE = b'{"Implements":["authz"]}'
ALLOW = b'{"Allow":true}'
CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"


class PolicyFile:
    """The policy from a JSON file, re-read when the file is replaced; None until it loads once."""

    def __init__(self, path: str):
        self.path = path
        self._seen: tuple | None = None
        self._policy: authz.Policy | None = None
        self._lock = threading.Lock()

    def get(self) -> authz.Policy | None:
        try:
            st = os.stat(self.path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        if key != self._seen:
            with self._lock:
                if key != self._seen:
                    try:
                        with open(self.path, "rb") as fh:
                            self._policy = authz.Policy.from_dict(json.load(fh))
                    except (OSError, ValueError, TypeError):
                        pass  # keep the last good policy (None at first: everything is refused)
                    self._seen = key
        return self._policy


def decide(policy: authz.Policy | None, request: dict) -> bytes:
    """The AuthZReq answer as JSON bytes."""
    if policy is None:
        r = authz.Refusal("every request", "the sandbox's seal settings could not be read",
                          "run: dockyard up (it rewrites them)")
    else:
        body = request.get("RequestBody")
        try:
            raw = base64.b64decode(body) if body else None
        except ValueError:
            raw = None
        method, uri = request.get("RequestMethod") or "", request.get("RequestUri") or "/"
        r = authz.check(policy, method, uri, request.get("RequestHeaders") or {}, raw)
        if r is None and authz.joins_network(method, uri):
            r = close_bridges(policy)
    if r is None:
        return ALLOW
    _log_refusal(request, r)
    return json.dumps({"Allow": False, "Msg": r.message}).encode()


def close_bridges(policy: authz.Policy | None) -> authz.Refusal | None:
    """Forwarding off on every bridge of the sandbox (see dockyard.routing); a Refusal if one stays open."""
    if policy is None:
        return None
    closed, failed = routing.close_all(policy.bridge, policy.address_pool)
    if closed:
        _log(f"closed {', '.join(closed)} to routing (IPv4 forwarding or IPv6 was on)")
    if failed:
        _log(f"could not close {'; '.join(failed)}")
        return authz.Refusal("starting or connecting a container now",
                             f"the network bridge {failed[0].split(':')[0]} would route its packets off this machine "
                             "and the sandbox could not switch that off",
                             "tell your teacher: dockyard status names the bridge")
    return None


def after(policy: authz.Policy | None, raw: bytes) -> bytes:
    """The AuthZRes answer (always allow); a network just created gets its bridge closed to routing."""
    if b"/networks/create" in raw:  # cheap test first: most responses are not parsed
        try:
            response = json.loads(raw)
        except ValueError:
            response = None
        if (isinstance(response, dict) and (response.get("RequestMethod") or "").upper() == "POST"
                and "/networks/create" in (response.get("RequestUri") or "")
                and 200 <= int(response.get("ResponseStatusCode") or 0) < 300):
            close_bridges(policy)
    return ALLOW


def _log_refusal(request: dict, r: authz.Refusal) -> None:
    path = (request.get("RequestUri") or "").split("?", 1)[0]
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} refused {request.get('RequestMethod')} {path}: "
                     f"{r.what}\n")
    sys.stderr.flush()


def _http_server(listener: socket.socket, policy: PolicyFile):
    """The HTTP side, built in the worker only: http.server costs 7 MB the supervisor does not need."""
    import socketserver
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: dockerd reuses one connection per client thread
        policy: PolicyFile

        def do_POST(self):  # noqa: N802 (the http.server API)
            raw = self._read_body()
            if self.path == "/AuthZPlugin.AuthZRes":
                out = after(self.policy.get(), raw)
            elif self.path == "/AuthZPlugin.AuthZReq":
                try:
                    request = json.loads(raw)
                except ValueError:
                    request = None
                if isinstance(request, dict):
                    out = decide(self.policy.get(), request)
                else:
                    out = json.dumps({"Allow": False, "Err": "the plugin got a request it cannot read"}).encode()
            elif self.path == "/Plugin.Activate":
                out = ACTIVATE
            else:
                self._send(404, b'{"Err":"not found"}')
                return
            self._send(200, out)

        def _read_body(self) -> bytes:
            # dockerd's plugin client encodes each call into a buffer first: always a Content-Length, never chunked
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, body: bytes) -> None:
            reason = b"OK" if status == 200 else b"Not Found"
            self.wfile.write(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
                             % (status, reason, CONTENT_TYPE.encode(), len(body), body))

        def log_message(self, format, *args):  # noqa: A002 - silence the per-request access log
            pass

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    Handler.policy = policy
    server = Server(listener.getsockname(), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    return server


def serve(socket_path: str, config_path: str) -> None:
    """Listen on ``socket_path``; a worker process answers, and is replaced at once if it dies.

    The listening socket belongs to this (supervising) process, so while a new worker
    starts, dockerd's connections wait in the backlog instead of failing: dockerd would
    otherwise retry for about 45 s and then refuse the request.
    """
    os.makedirs(os.path.dirname(socket_path), exist_ok=True)
    try:
        os.unlink(socket_path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"{socket_path}.{os.getpid()}"
    old = os.umask(0o177)  # the socket is root's alone
    try:
        listener.bind(tmp)
    finally:
        os.umask(old)
    listener.listen(128)
    os.replace(tmp, socket_path)  # the path appears listening: connections wait for the worker in the backlog
    worker = 0

    def stop(_sig, _frame):
        if worker:
            try:
                os.kill(worker, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.unlink(socket_path)
        except OSError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _log(f"authz plugin (pid {os.getpid()}) on {socket_path}")
    delay = 0.0
    supervisor = os.getpid()
    while True:
        worker = os.fork()
        if worker == 0:  # the worker: serve until killed, and never outlive the supervisor (a SIGKILL to it)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _die_with_parent(supervisor)
            policy = PolicyFile(config_path)
            _watch_bridges(policy)
            _http_server(listener, policy).serve_forever()
            os._exit(0)
        started = time.monotonic()
        _pid, status = os.waitpid(worker, 0)
        _log(f"worker {worker} ended (wait status {status}); starting another")
        delay = 0.0 if time.monotonic() - started > 5 else min(1.0, delay * 2 or 0.01)  # no busy loop
        time.sleep(delay)


def _watch_bridges(policy: PolicyFile) -> None:
    """Close the sandbox's bridges now, and again whenever the kernel reports a change (dockyard.routing)."""
    close_bridges(policy.get())
    try:
        routing.Watcher(lambda: close_bridges(policy.get())).start()
    except OSError as exc:  # the start/connect check still runs on every request
        _log(f"cannot watch network changes ({exc}); bridges are closed on container start only")


def _log(text: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}\n")
    sys.stderr.flush()


def _die_with_parent(parent: int) -> None:
    """PR_SET_PDEATHSIG: the kernel sends SIGKILL when the parent ends; and if it has already, end now."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent:
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    """--socket PATH (in /run/docker/plugins/) --config PATH (policy JSON: workspace, address_pool, bridge,
    data_root: a start, restart or docker cp reads the container's bind sources from its files there)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        opts = dict(zip(args[::2], args[1::2], strict=True))
        serve(opts["--socket"], opts["--config"])
    except (KeyError, ValueError):
        sys.exit("usage: authz_server.py --socket PATH --config PATH")


if __name__ == "__main__":
    main()
