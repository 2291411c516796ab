"""Shared fakes for the unit tests: a tiny Docker API on a unix socket and a tiny registry.

No test here starts dockerd, touches real cgroups or creates bridges. The autouse
fixtures below point DOCKYARD_HOME at a temporary directory and make the
sandbox's side-effecting steps fail loudly, so a test that goes wrong cannot
start anything on the machine (the tests usually run as root).
"""

from __future__ import annotations

import http.server
import json
import re
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

DOCKYARD_VARS = ("DOCKYARD_SANDBOX", "DOCKYARD_MEMORY", "DOCKYARD_PIDS", "DOCKYARD_CPUS",
                 "DOCKYARD_SEED_PORT", "DOCKYARD_BACKEND", "DOCKER_HOST", "XDG_STATE_HOME",
                 "DOCKYARD_WORKSPACE")


@pytest.fixture(autouse=True)
def dockyard_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own empty DOCKYARD_HOME and no DOCKYARD_*/DOCKER_HOST from the caller."""
    for var in DOCKYARD_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("DOCKYARD_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def no_side_effects(monkeypatch):
    """Anything that would start processes, make bridges or mount must not run in unit tests."""
    from dockyard import network, sandbox

    def forbidden(*_a, **_kw):
        raise AssertionError("a unit test reached a step that changes the machine")

    for meth in ("_recover_stale", "_start_infrastructure", "_start_registries", "_start_daemon", "_stop_daemon"):
        monkeypatch.setattr(sandbox.Sandbox, meth, forbidden)
    monkeypatch.setattr(network, "create_bridge", forbidden)
    monkeypatch.setattr(network, "delete_bridge", forbidden)
    # the seal's socket lives in /run/docker/plugins/ on a real machine: here, next to the sandbox
    from dockyard.config import SandboxConfig
    monkeypatch.setattr(SandboxConfig, "authz_socket", property(lambda self: self.dir / "authz.sock"))


@pytest.fixture
def seal_plugin(spawn):
    """Start the real authorization plugin for a sandbox config, as `up` does; returns its process."""
    from dockyard.seal import SERVER, Seal

    def start(cfg):
        cfg.dir.mkdir(parents=True, exist_ok=True)
        Seal(cfg).write_policy([], None)
        proc = spawn(sys.executable, "-I", str(SERVER), "--socket", str(cfg.authz_socket),
                     "--config", str(cfg.authz_config))
        cfg.authz_pidfile.write_text(str(proc.pid))
        deadline = time.monotonic() + 10
        while not Seal(cfg).answering() and time.monotonic() < deadline:
            time.sleep(0.01)
        return proc

    return start


@pytest.fixture
def spawn():
    """Start a child process and wait until its exec is complete; kill leftovers after the test.

    Right after Popen returns, the kernel may still show an empty /proc/<pid>/cmdline,
    which procs.alive(pid, expect) would read as "not ours".
    """
    started = []

    def start(*args, **kw):
        proc = subprocess.Popen(list(args), **kw)
        started.append(proc)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(f"/proc/{proc.pid}/cmdline", "rb") as fh:
                if fh.read():
                    break
            with open(f"/proc/{proc.pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":  # already exited
                    break
            time.sleep(0.005)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- a fake Docker API on a unix socket -----------------------------------------------

class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict  # path -> (content type, body bytes)

    def do_GET(self):  # noqa: N802
        found = self.routes.get(self.path)
        if found is None:
            self._send(404, "application/json", b'{"message": "page not found"}')
        else:
            self._send(200, *found)

    def _send(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self):  # unix sockets have no peer address
        return "unix"

    def log_message(self, *_args):
        pass


DOCKER_VERSION = {
    "Version": "20.10.24", "ApiVersion": "1.41",
    "Components": [{"Name": "Engine", "Version": "20.10.24"},
                   {"Name": "containerd", "Version": "1.6.20"}, {"Name": "runc", "Version": "1.1.5"}],
}
DOCKER_INFO = {"Containers": 3, "ContainersRunning": 1, "Images": 4}


@pytest.fixture
def serving():
    """``serving(server)``: the server answers on a thread of its own until the test ends, then is closed."""
    servers = []

    def serve(srv):
        threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(srv)
        return srv

    yield serve
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def docker_api(serving):
    """``docker_api(sock_path, extra_routes)`` serves /_ping, /version and /info on a unix socket."""
    def start(sock: Path, extra: dict | None = None) -> Path:
        routes = {
            "/_ping": ("text/plain; charset=utf-8", b"OK"),
            "/version": ("application/json", json.dumps(DOCKER_VERSION).encode()),
            "/info": ("application/json", json.dumps(DOCKER_INFO).encode()),
        }
        for path, value in (extra or {}).items():
            routes[path] = ("application/json", json.dumps(value).encode())
        handler = type("Handler", (_Handler,), {"routes": routes})
        sock.parent.mkdir(parents=True, exist_ok=True)
        serving(_UnixHTTPServer(str(sock), handler))
        return sock

    return start


# --- a fake distribution (v2) registry on 127.0.0.1 --------------------------------------

MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:c0ffee", "size": 2},
    "layers": [],
}
IMAGE_CONFIG = {"config": {"Cmd": ["sh"], "Labels": {"org.dockyard.stand-in": "true"}}}
MANIFEST_DIGEST = "sha256:" + "ab" * 32


class FakeRegistry(http.server.ThreadingHTTPServer):
    """A registry's read API on 127.0.0.1: ``repos`` (name -> tags), every tag with the same ``manifest``, whose
    config blob is ``image_config``; ``tamper`` serves that blob a byte longer than its digest says."""

    daemon_threads = True

    def __init__(self, repos: dict | None = None, manifest: dict = MANIFEST, manifest_digest: str = MANIFEST_DIGEST,
                 image_config: dict = IMAGE_CONFIG, tamper: bool = False):
        super().__init__(("127.0.0.1", 0), _RegistryHandler)
        self.repos = repos if repos is not None else {
            "library/busybox": ["latest"], "library/python": ["3.11-slim"], "class1/web": []}
        self.manifest, self.manifest_digest, self.image_config = manifest, manifest_digest, image_config
        self.tamper = tamper
        self.requests: list[tuple[str, dict]] = []

    @staticmethod
    def body(obj) -> bytes:
        """The bytes it answers ``obj`` with (a digest is the sha256 of these)."""
        return json.dumps(obj, separators=(",", ":")).encode()

    def config_blob(self) -> bytes:
        """The image config's bytes as served: one byte more than its digest says when ``tamper``."""
        return self.body(self.image_config) + (b" " if self.tamper else b"")

    @property
    def port(self) -> int:
        return self.server_address[1]


class _RegistryHandler(http.server.BaseHTTPRequestHandler):
    server: FakeRegistry

    def do_GET(self):  # noqa: N802
        s = self.server
        s.requests.append((self.path, dict(self.headers)))
        if self.path == "/v2/":
            return self._json({})
        if self.path.startswith("/v2/_catalog"):
            return self._json({"repositories": sorted(s.repos)})
        m = re.fullmatch(r"/v2/(.+)/tags/list", self.path)
        if m and m.group(1) in s.repos:
            return self._json({"name": m.group(1), "tags": s.repos[m.group(1)] or None})
        m = re.fullmatch(r"/v2/(.+)/manifests/([^/]+)", self.path)
        if m and m.group(2) in s.repos.get(m.group(1), []):
            return self._json(s.manifest, {"Docker-Content-Digest": s.manifest_digest}, ctype=s.manifest["mediaType"])
        m = re.fullmatch(r"/v2/(.+)/blobs/(sha256:\w+)", self.path)
        if m and m.group(1) in s.repos and m.group(2) == s.manifest["config"]["digest"]:
            return self._send(s.config_blob(), "application/octet-stream")
        self._json({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]}, status=404)

    def _json(self, obj, headers=None, ctype="application/json", status=200):
        self._send(self.server.body(obj), ctype, headers, status)

    def _send(self, body: bytes, ctype: str, headers=None, status=200):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def fake_registries(serving):
    """start(**kw): a FakeRegistry(**kw) serving until the test ends."""
    return lambda **kw: serving(FakeRegistry(**kw))


@pytest.fixture
def fake_registry(fake_registries) -> FakeRegistry:
    return fake_registries()
