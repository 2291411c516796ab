"""Context against a fake Docker API on a unix socket: the one docker_errors translation, and the CheckContext
Protocol that both Context and the tests' FakeContext honour."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
import time

import docker
import pytest

from dockyard.errors import ContainerNotFound, DaemonError, DockyardError, ImageNotFound
from grader.context import CheckContext, Context, docker_errors

from .fakes import FakeContext

WEB = {"Id": "c0ffee" * 10 + "abcd", "Name": "/web", "State": {"Running": True}, "Config": {"Tty": False}}
ROUTES = {
    "/containers/web/json": (200, WEB),
    "/containers/nope/json": (404, {"message": "No such container: nope"}),
    "/images/nope/json": (404, {"message": "No such image: nope:latest"}),
    "/containers/json": (500, {"message": "the daemon's disk is full"}),
    "/containers/web/exec": (201, {"Id": "e1"}),
    "/exec/e1/json": (200, {"ExitCode": None, "Running": True}),
}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


FLOOD = 3 << 20  # bytes a container prints: more than the grader keeps of a command's output or a log
STREAMS = ("/exec/e1/start", "/containers/web/logs")


def _frames(total: int, chunk: int = 1 << 16):
    """Docker's multiplexed stream: an 8-byte header (stream 1, stdout; the length) before each chunk."""
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield bytes([1, 0, 0, 0]) + n.to_bytes(4, "big") + b"x" * n
        sent += n


class _Api(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0]
        path = path[path.index("/", 1):] if path.startswith("/v1.") else path
        if path in STREAMS:
            return self._stream()
        status, body = ROUTES.get(path, (404, {"message": "page not found"}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.docker.raw-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        time.sleep(0.05)  # dockerd sends its headers before any output: docker-py reads the frames from the socket
        try:
            for frame in _frames(FLOOD):
                self.wfile.write(frame)
        except OSError:  # the client stopped reading: what the cap is for
            pass
        self.close_connection = True

    def address_string(self):
        return "unix"

    def log_message(self, *_a):
        pass


@pytest.fixture
def ctx(tmp_path):
    sock = tmp_path / "docker.sock"
    srv = _Server(str(sock), _Api)
    threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
    client = docker.DockerClient(base_url=f"unix://{sock}", version="1.41", timeout=5)
    yield Context(client, submission=tmp_path)
    srv.shutdown()
    srv.server_close()


def test_inspect_data_comes_back_and_is_kept_for_the_evidence(ctx):
    assert ctx.container("web")["Name"] == "/web"
    assert ctx.inspected["container web"]["Id"] == WEB["Id"]


def test_the_apis_errors_become_the_projects_with_what_was_being_done(ctx):
    with pytest.raises(ContainerNotFound, match="inspecting container nope"):
        ctx.container("nope")
    with pytest.raises(ImageNotFound, match="inspecting image nope"):
        ctx.image("nope")
    with pytest.raises(DockyardError, match="listing containers"):
        ctx.containers()


def test_a_daemon_that_is_gone_is_a_daemon_error(tmp_path):
    client = docker.DockerClient(base_url=f"unix://{tmp_path / 'gone.sock'}", version="1.41", timeout=2)
    with pytest.raises(DaemonError):
        Context(client).logs("web")


def test_the_projects_own_errors_pass_through_unchanged():
    mine = ContainerNotFound("already ours")
    with pytest.raises(ContainerNotFound) as err, docker_errors("doing something"):
        raise mine
    assert err.value is mine


def test_context_and_the_fake_both_have_everything_a_check_may_use():
    members = [m for m in dir(CheckContext) if not m.startswith("_")] + list(CheckContext.__annotations__)
    fake = FakeContext()
    for m in members:
        assert hasattr(Context, m) or m in Context.__init__.__code__.co_names or m in ("client", "submission"), m
        assert hasattr(fake, m), f"FakeContext lacks {m}"


def test_a_flood_from_a_command_or_a_log_is_cut_at_the_cap_not_read_to_the_end(ctx):
    from grader.inspector import EXEC_OUTPUT_CAP, LOG_CAP

    code, out = ctx.exec("web", ["yes"], timeout=20)
    assert code == -1  # still running when its output was cut
    assert out.startswith("x" * 1000) and out.endswith("[output cut at 1024 KiB]")
    assert out.count("x") == EXEC_OUTPUT_CAP < FLOOD
    log = ctx.logs("web")
    assert log.count("x") == LOG_CAP < FLOOD and log.endswith("[output cut at 1024 KiB]")


def test_checks_take_what_they_need_from_the_context_never_its_client_or_privates():
    """Every Docker call of a check goes through the context's methods (one translation of errors, one record of
    what it made): no check module reaches for ctx.client, a private member, or the sandbox behind it."""
    import re
    from pathlib import Path

    import grader.checks

    found = []
    for f in sorted(Path(grader.checks.__file__).parent.glob("*.py")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if re.search(r"\bctx\.(client|sandbox|_\w+)", line):
                found.append(f"{f.name}:{n}: {line.strip()}")
    assert not found, "\n".join(found)
